"""deploy/crds is what scripts/crd_versions.py writes: the older served versions never drift
from the hand-written storage versions they are derived from."""

from __future__ import annotations

import subprocess
import sys

from tests.support.paths import REPO_ROOT

SCRIPT = REPO_ROOT / "scripts" / "crd_versions.py"


def test_deploy_crds_are_up_to_date() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, f"run `python scripts/crd_versions.py`: {done.stdout}"
