"""Settings of the simulated node: start delay, runner binaries, scratch space, default outcomes.

One frozen-free dataclass the API server passes to ``start_node``; every field has a default
so ``NodeSettings()`` is a sensible local setup. This module does no I/O.
"""

from __future__ import annotations

import enum
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

__all__ = ["NODE_NAME", "NodeSettings", "Outcome", "find_deno"]

NODE_NAME = "sandbox-node"
"""The one node of the sandbox: every pod is bound to it."""

_REPO_ROOT = Path(__file__).resolve().parents[2]


class Outcome(enum.Enum):
    """What a simulated (non-runner) container does once started."""

    SUCCEED = "succeed"
    FAIL = "fail"
    RUN = "run"
    """Keep running until the pod is deleted (services)."""


def find_deno() -> str | None:
    """Deno from the repo's npm tools dir, else from PATH, else None."""
    local = _REPO_ROOT / ".tools" / "node_modules" / ".bin" / "deno"
    if local.exists():
        return str(local)
    return shutil.which("deno")


@dataclass
class NodeSettings:
    """How the simulated node behaves."""

    pod_start_delay: float = 0.5
    """Seconds between a pod being bound and its containers running (0 = at once, benchmarks)."""

    deno: str | None = None
    """Path to the deno binary for the deno runtime; None = ``find_deno()``."""

    python: str = sys.executable
    """Interpreter for the python runtime (KLT's image runs ``python3``)."""

    work_dir: Path | None = None
    """Scratch space for pod files and DENO_DIR; None = a temp dir removed on stop."""

    default_outcome: Outcome | None = None
    """Outcome of a Job pod whose image is no runner and that has no outcome annotation;
    None = the container cannot start (ErrImagePull-like waiting state)."""

    default_duration: float = 0.0
    """Seconds a simulated container runs before its outcome, unless the pod says otherwise."""

    log_limit: int = 1 << 20
    """Bytes of container output kept per container (the tail)."""
