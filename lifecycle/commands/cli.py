"""The `klt` command line: one subcommand per process of DESIGN.md.

Each subcommand lives in the module that owns it and registers itself here through
`COMMANDS`; this module only parses arguments and dispatches. It does no work itself.

Startup stays cheap: `klt --help` imports none of the subcommands, and `klt <command>` imports
only that command's module (adding a subcommand is one `COMMANDS` line). Expected failures
become one or two lines on stderr in kubectl's style and exit 1 (lifecycle.commands.errors);
`--debug` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from typing import NamedTuple

__all__ = ["COMMANDS", "Command", "main"]


class Command(NamedTuple):
    """A subcommand: its help line and the `module:function` that builds and runs it."""

    help: str
    target: str


# target modules expose `add_arguments(parser)` and `run(args) -> int`.
COMMANDS: dict[str, Command] = {
    "operator": Command(
        "run the operator (controllers, webhook, /metrics)", "lifecycle.operator.main"
    ),
    "sandbox": Command("run the embedded Kubernetes-compatible cluster", "sandbox.cli"),
    "demo": Command("sandbox + operator + Prometheus + the example app", "lifecycle.demo"),
    "status": Command("table of app versions and workload versions", "lifecycle.commands.status"),
    "trace": Command(
        "timeline (Gantt) of an app version from its spans", "lifecycle.commands.trace"
    ),
    "ui": Command("read-only web view of deployments and release quality", "lifecycle.ui"),
    "convert": Command(
        "Keptn v1 SLI/SLO files as Analysis resources", "lifecycle.commands.v1convert"
    ),
}


class _Version(argparse.Action):
    """`--version`: the installed package's version, looked up only when asked (importlib.metadata
    costs ~25 ms, a third of `klt --help`)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: object) -> None:
        super().__init__(option_strings, dest, nargs=0, help="print the version and exit")

    def __call__(self, parser: argparse.ArgumentParser, *args: object) -> None:
        from importlib.metadata import PackageNotFoundError, version

        try:
            found = version("klt")
        except PackageNotFoundError:
            found = "unknown"
        print(f"klt {found}")  # on stdout, as argparse's own version action
        parser.exit()


def _chosen(argv: Sequence[str]) -> str | None:
    """The subcommand named in `argv` (the first word that is one), without parsing."""
    for word in argv:
        if word in COMMANDS:
            return word
        if not word.startswith("-"):
            return None
    return None


def _parser(chosen: str | None) -> tuple[argparse.ArgumentParser, Callable[..., int] | None]:
    """The parser; only the chosen subcommand's module is imported (to declare its flags)."""
    parser = argparse.ArgumentParser(
        prog="klt", description="Keptn Lifecycle Toolkit deployment flow, in Python."
    )
    parser.add_argument("--version", action=_Version)
    parser.add_argument(
        "--debug", action="store_true", help="show the Python traceback of a failure"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    runner = None
    for name, command in COMMANDS.items():
        if name != chosen:
            sub.add_parser(name, help=command.help)
            continue
        module = importlib.import_module(command.target)
        p = sub.add_parser(name, help=command.help, description=command.help)
        p.add_argument(
            "--debug",
            action="store_true",
            default=argparse.SUPPRESS,
            help="show the Python traceback of a failure",
        )
        module.add_arguments(p)
        runner = module.run
    return parser, runner


def main(argv: Sequence[str] | None = None) -> int:
    """Parse `argv` and run the chosen subcommand; returns the process exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    try:
        parser, runner = _parser(_chosen(argv))
        args = parser.parse_args(argv)
        assert runner is not None  # parse_args exits when no known subcommand is given
        return int(runner(args))
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if debug:
            raise
        from lifecycle.commands.errors import explain

        print(explain(exc), file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
