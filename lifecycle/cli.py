"""The `klt` command line: one subcommand per process of DESIGN.md.

Each subcommand lives in the module that owns it and registers itself here through
`COMMANDS`; this module only parses arguments and dispatches. It does no work itself.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

__all__ = ["main"]


@dataclass(frozen=True, slots=True)
class Command:
    """A subcommand: its help line and the `module:function` that builds and runs it."""

    help: str
    target: str


# target modules expose `add_arguments(parser)` and `run(args) -> int`.
COMMANDS: dict[str, Command] = {
    "operator": Command("run the operator (controllers, webhook, /metrics)", "lifecycle.app"),
    "sandbox": Command("run the embedded Kubernetes-compatible cluster", "sandbox.cli"),
    "demo": Command("sandbox + operator + Prometheus + the example app", "lifecycle.demo"),
    "status": Command("table of app versions and workload versions", "lifecycle.status"),
    "trace": Command("timeline (Gantt) of an app version from its spans", "lifecycle.trace"),
    "ui": Command("read-only web view of deployments and release quality", "lifecycle.ui"),
    "convert": Command("Keptn v1 SLI/SLO files as Analysis resources", "lifecycle.v1convert"),
}


def _load(target: str) -> tuple[Callable[[argparse.ArgumentParser], None], Callable[..., int]]:
    module = importlib.import_module(target)
    return module.add_arguments, module.run


def main(argv: Sequence[str] | None = None) -> int:
    """Parse `argv` and run the chosen subcommand; returns the process exit code."""
    parser = argparse.ArgumentParser(
        prog="klt", description="Keptn Lifecycle Toolkit deployment flow, in Python."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    runners: dict[str, Callable[..., int]] = {}
    for name, command in COMMANDS.items():
        try:
            add_arguments, run = _load(command.target)
        except (ImportError, AttributeError):
            sub.add_parser(name, help=f"{command.help} (not built yet)")
            continue
        p = sub.add_parser(name, help=command.help, description=command.help)
        add_arguments(p)
        runners[name] = run
    args = parser.parse_args(argv)
    runner = runners.get(args.command)
    if runner is None:
        print(f"klt {args.command}: not built yet", file=sys.stderr)
        return 2
    return runner(args)


if __name__ == "__main__":
    raise SystemExit(main())
