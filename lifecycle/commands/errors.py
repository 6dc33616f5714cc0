"""Expected failures of `klt` subcommands as one or two lines in kubectl's style.

Role: `explain(exc)` turns an exception that reached `lifecycle.commands.cli.main` into what failed and
its likely cause (`error: ...`), plus what to try (`hint: ...`) when there is something to try.
`CliError` lets a subcommand say both itself; `kubeconfig_path` finds the kubeconfig the way
kubectl does and fails with a CliError (with a hint) when there is none, before the client is
built.

Invariants: imports nothing heavy at module level (it runs on every failure, and `klt status`
checks the kubeconfig through it before importing the client). Never prints a traceback: that
is `--debug`'s job, in lifecycle.commands.cli.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

__all__ = ["CliError", "explain", "kubeconfig_path"]

_DEBUG_HINT = "hint: run it again with --debug for the traceback, and report it if it is a bug"
_CLUSTER_HINT = (
    "hint: start a cluster (`klt sandbox`, or `klt demo --keep`), or pass the --kubeconfig of a "
    "running one"
)


class CliError(Exception):
    """An expected failure: `what` failed (and why), `hint` what to try ("" for none)."""

    def __init__(self, what: str, hint: str = "") -> None:
        super().__init__(what)
        self.what = what
        self.hint = hint

    def lines(self) -> str:
        """`error: ...` and, if any, `hint: ...`."""
        return f"error: {self.what}" + (f"\nhint: {self.hint}" if self.hint else "")


def kubeconfig_path(given: str | None, env: Mapping[str, str] | None = None) -> str:
    """The kubeconfig to load: `given`, else the first existing file of $KUBECONFIG, else
    ~/.kube/config; a CliError when that file does not exist."""
    env = os.environ if env is None else env
    if given:
        if not Path(given).is_file():
            raise CliError(
                f"the kubeconfig {given} does not exist or is not a file",
                "check the path given to --kubeconfig",
            )
        return given
    candidates = [p for p in env.get("KUBECONFIG", "").split(os.pathsep) if p]
    for path in candidates:
        if Path(path).is_file():
            return path
    default = Path(env.get("HOME") or Path.home()) / ".kube" / "config"
    if not candidates and default.is_file():
        return str(default)
    where = f"$KUBECONFIG ({env['KUBECONFIG']})" if candidates else str(default)
    raise CliError(
        f"no kubeconfig: {where} does not exist",
        "pass --kubeconfig PATH or set $KUBECONFIG (`klt sandbox` and `klt demo` write one)",
    )


def _first_line(text: object) -> str:
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    return lines[0] if lines else ""


def _detail(exc: BaseException) -> str:
    text = _first_line(exc)
    return f": {text}" if text else ""


def _module(exc: BaseException) -> str:
    return type(exc).__module__ or ""


def _connection(exc: BaseException) -> str | None:
    """The lines for a Kubernetes call that never got an answer (server down, timeout)."""
    cause = exc.__cause__
    host, port = getattr(cause, "host", None), getattr(cause, "port", None)
    if host is not None:
        return (
            f"error: the connection to the server {host}:{port} was refused - is the cluster "
            f"running?\n{_CLUSTER_HINT}"
        )
    if isinstance(cause, TimeoutError):
        return f"error: the server did not answer in time ({exc})\n{_CLUSTER_HINT}"
    return None


def _kube(exc: BaseException) -> str | None:
    from lifecycle.kube.errors import Forbidden, KubeError, NotFound, Transient, Unauthorized

    if not isinstance(exc, KubeError):
        return None
    if isinstance(exc, Transient) and (lines := _connection(exc)):
        return lines
    if isinstance(exc, Unauthorized):
        return (
            f"error: the server rejected the credentials ({exc})\nhint: check the kubeconfig's user"
        )
    if isinstance(exc, Forbidden):
        return f"error: not allowed: {exc}\nhint: check the RBAC rules of the kubeconfig's user"
    if isinstance(exc, NotFound) and "keptn.sh" in str(exc):
        return f"error: {exc}\nhint: are Keptn's CRDs installed? (kubectl apply -f deploy/crds)"
    return f"error: {_first_line(exc)}"


def explain(exc: BaseException) -> str:
    """One or two lines for `exc`: `error: ...` and maybe `hint: ...`."""
    if isinstance(exc, CliError):
        return exc.lines()
    if type(exc).__name__ == "KubeconfigError" and _module(exc).startswith("lifecycle.kube"):
        return f"error: {_first_line(exc)}\nhint: check it with `kubectl config view --kubeconfig PATH`"
    if _module(exc).startswith("yaml"):
        mark = getattr(exc, "problem_mark", None)
        where = f" ({mark.name}, line {mark.line + 1})" if mark is not None else ""
        return f"error: not valid YAML{where}: {_first_line(getattr(exc, 'problem', exc))}"
    if (kube := _kube(exc)) is not None:
        return kube
    if isinstance(exc, TimeoutError):  # every wait of klt's is on the cluster
        return f"error: timed out waiting for the cluster{_detail(exc)}\n{_CLUSTER_HINT}"
    if isinstance(exc, OSError) and exc.strerror:
        target = f" {exc.filename}" if exc.filename else ""
        return f"error: cannot use{target}: {exc.strerror}"
    return f"error: unexpected {type(exc).__name__}: {_first_line(exc)}\n{_DEBUG_HINT}"
