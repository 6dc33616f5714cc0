"""Options shared by the test suite."""

from __future__ import annotations

import pytest

from tests.support.tasks import no_leaked_tasks  # noqa: F401  (a fixture for every folder)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--many",
        action="store_true",
        default=False,
        help="long variants: e.g. tests/e2e/security/test_fuzz.py with 10x the manifests and a random "
        "seed (combine with --timeout=0)",
    )


E2E_FILES = ("tests/demo/test_demo.py", "tests/ui/test_browser.py")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the slow whole-system lanes `e2e`, so `pytest -m "not e2e"` runs the fast suite."""
    root = config.rootpath
    for item in items:
        where = item.path.relative_to(root).as_posix()
        if where.startswith("tests/e2e/") or where in E2E_FILES:
            item.add_marker(pytest.mark.e2e)
