"""scripts/mypy_bodies.py: mypy reports `.get("key")` of a key the typed body does not declare."""

from __future__ import annotations

from pathlib import Path

from mypy import api

from tests.support.paths import REPO_ROOT

ROOT = REPO_ROOT

SNIPPET = """
from lifecycle.core.bodies import KeptnAppVersionBody, KeptnWorkloadVersionBody


def app_of(wv: KeptnWorkloadVersionBody) -> object:
    return wv.get("spec", {}).get("app")


def mixed_up(wv: KeptnWorkloadVersionBody) -> object:
    return wv.get("spec", {}).get("appName")


def either(v: KeptnAppVersionBody | KeptnWorkloadVersionBody) -> object:
    return v.get("spec", {}).get("appName") or v.get("spec", {}).get("app")
"""


def _mypy(tmp_path: Path, plugin: bool) -> list[str]:
    source = tmp_path / "snippet.py"
    source.write_text(SNIPPET)
    config = tmp_path / "mypy.ini"
    plugins = f"plugins = {ROOT / 'scripts' / 'mypy_bodies.py'}\n" if plugin else ""
    config.write_text(f"[mypy]\nstrict = True\nmypy_path = {ROOT}\n{plugins}")
    out, _, _ = api.run(
        [str(source), "--config-file", str(config), "--cache-dir", str(tmp_path / "cache")]
    )
    return [line.split(": error: ", 1)[1] for line in out.splitlines() if ": error: " in line]


def test_an_undeclared_key_read_with_get_is_a_mypy_error(tmp_path: Path) -> None:
    errors = _mypy(tmp_path, plugin=True)
    assert errors == [
        'TypedDict "KeptnWorkloadVersionSpec" has no key "appName"  [typeddict-item]',
        'TypedDict "KeptnWorkloadVersionSpec" has no key "appName"  [typeddict-item]',
        'TypedDict "KeptnAppVersionSpec" has no key "app"  [typeddict-item]',
    ]


def test_without_the_plugin_mypy_lets_the_mix_up_through(tmp_path: Path) -> None:
    assert _mypy(tmp_path, plugin=False) == []
