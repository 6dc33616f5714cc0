"""`explain` and `kubeconfig_path`: what a failed `klt` command prints (no subprocess)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lifecycle.commands.errors import CliError, explain, kubeconfig_path
from lifecycle.kube.errors import Forbidden, Transient, Unauthorized


class _Refused(OSError):
    host, port = "10.0.0.1", 6443


def _transient_from(cause: BaseException) -> Transient:
    try:
        raise Transient("GET /apis/x: refused") from cause
    except Transient as exc:
        return exc


@pytest.mark.parametrize(
    ("exc", "first", "hint"),
    [
        (
            _transient_from(_Refused()),
            "error: the connection to the server 10.0.0.1:6443 was refused - is the cluster running?",
            True,
        ),
        (TimeoutError(), "error: timed out waiting for the cluster", True),
        (Unauthorized("bad token", status=401), "error: the server rejected the credentials", True),
        (Forbidden("no", status=403), "error: not allowed: 403", True),
        (
            FileNotFoundError(2, "No such file or directory", "/x"),
            "error: cannot use /x: No such",
            False,
        ),
        (RuntimeError("boom\nmore"), "error: unexpected RuntimeError: boom", True),
        (CliError("it failed", "try this"), "error: it failed", True),
    ],
)
def test_each_failure_is_one_or_two_lines(exc: BaseException, first: str, hint: bool) -> None:
    lines = explain(exc).splitlines()
    assert lines[0].startswith(first), lines
    assert len(lines) == (2 if hint else 1)
    assert not hint or lines[1].startswith("hint: ")


def test_kubeconfig_path_follows_kubectl(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.write_text("")
    home = {"HOME": str(tmp_path / "home")}
    assert kubeconfig_path(str(config), home) == str(config)
    # $KUBECONFIG: the first file of the list that exists
    assert kubeconfig_path(None, {**home, "KUBECONFIG": f"/none:{config}"}) == str(config)
    (tmp_path / "home" / ".kube").mkdir(parents=True)
    (tmp_path / "home" / ".kube" / "config").write_text("")
    assert kubeconfig_path(None, home) == str(tmp_path / "home" / ".kube" / "config")
    with pytest.raises(CliError, match=r"no kubeconfig: \$KUBECONFIG \(/none\) does not exist"):
        kubeconfig_path(None, {**home, "KUBECONFIG": "/none"})
    with pytest.raises(CliError, match="the kubeconfig /none does not exist"):
        kubeconfig_path("/none", home)
