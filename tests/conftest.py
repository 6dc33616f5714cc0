"""Options shared by the test suite."""

from __future__ import annotations

import pytest

from tests.support.tasks import no_leaked_tasks  # noqa: F401  (a fixture for every folder)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--many",
        action="store_true",
        default=False,
        help="long variants: e.g. tests/security/test_fuzz.py with 10x the manifests and a random "
        "seed (combine with --timeout=0)",
    )
