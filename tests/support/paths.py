"""Where the repository is, for tests that read its files (deploy/, dashboards/, docs ...)."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
