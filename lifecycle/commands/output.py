"""kubectl-like listing flags and plain tables that fit the terminal, for `klt status`/`klt trace`.

Role: `add_listing_arguments` declares `-o wide|json|yaml`, `-n`, `-A`, `--watch` (and
`--kubeconfig`) the same way for every reading subcommand; `fit_table` lays out rows as plain
columns (three spaces apart, like kubectl) within a width, shrinking the flexible columns in the
order given and cutting their cells with an ellipsis -- never wrapping, so no word is split over
two lines (a line may still overflow when the fixed columns alone are wider);
`dump` prints objects as a kubectl `List` in JSON or YAML; `terminal_width` is `COLUMNS`, else
the terminal's, else 80.

Invariants: pure apart from `terminal_width` (reads the environment); imports nothing heavy
(pyyaml only when YAML is asked for). Must not: talk to the cluster.
"""

from __future__ import annotations

import argparse
import json
import shutil
from collections.abc import Mapping, Sequence

__all__ = [
    "ELLIPSIS",
    "add_cluster_arguments",
    "add_listing_arguments",
    "cut",
    "dump",
    "fit_table",
    "namespace_of",
    "terminal_width",
]

ELLIPSIS = "…"
GAP = "   "
MIN_FLEX = 8
"""A flexible column never shrinks below this (or its header)."""


def add_cluster_arguments(parser: argparse.ArgumentParser) -> None:
    """`--kubeconfig`, `-n`, `-A`, as kubectl spells them."""
    parser.add_argument(
        "--kubeconfig", help="kubeconfig path (default $KUBECONFIG or ~/.kube/config)"
    )
    parser.add_argument("-n", "--namespace", help="only this namespace")
    parser.add_argument(
        "-A",
        "--all-namespaces",
        action="store_true",
        help="every namespace (the default when -n is not given)",
    )


def add_listing_arguments(parser: argparse.ArgumentParser, *, watch_help: str) -> None:
    """The cluster flags, `-o`, `-w/--watch` and `--width`, as kubectl spells them."""
    add_cluster_arguments(parser)
    parser.add_argument(
        "-o",
        "--output",
        choices=("wide", "json", "yaml"),
        default=None,
        help="wide: every column, nothing cut; json/yaml: the objects themselves",
    )
    parser.add_argument("-w", "--watch", action="store_true", help=watch_help)
    parser.add_argument(
        "--width", type=int, default=None, help="columns (default $COLUMNS, else the terminal's)"
    )


def namespace_of(args: argparse.Namespace) -> str | None:
    """The namespace to read: None (all) with -A or without -n."""
    return None if args.all_namespaces else (args.namespace or None)


def terminal_width(given: int | None = None) -> int:
    """`given`, else $COLUMNS, else the terminal's width, else 80."""
    if given:
        return given
    return shutil.get_terminal_size((80, 24)).columns


def cut(text: str, width: int) -> str:
    """`text` if it fits in `width`, else its first width-1 characters and an ellipsis."""
    text = " ".join(text.split())  # one line: newlines and runs of spaces never reach a cell
    if len(text) <= width:
        return text
    return text[: max(width - 1, 0)].rstrip() + ELLIPSIS


def column_widths(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    width: int | None,
    flexible: Sequence[int],
) -> list[int]:
    """Natural widths; while the row is wider than `width`, the `flexible` columns give way in
    their order (the first down to its floor before the second), each to no less than its
    header or MIN_FLEX characters."""
    widths = [
        max([len(h), *(len(" ".join(r[i].split())) for r in rows)]) for i, h in enumerate(headers)
    ]
    if width is None:
        return widths
    for i in flexible:
        excess = sum(widths) + len(GAP) * (len(widths) - 1) - width
        if excess <= 0:
            break
        floor = min(widths[i], max(len(headers[i]), MIN_FLEX))
        widths[i] = max(floor, widths[i] - excess)
    return widths


def format_row(cells: Sequence[str], widths: Sequence[int]) -> str:
    """One line: each cell cut to its column, padded, the last one unpadded."""
    parts = [cut(c, w).ljust(w) for c, w in zip(cells, widths, strict=True)]
    return GAP.join(parts).rstrip()


def fit_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    width: int | None,
    flexible: Sequence[int] = (),
) -> list[str]:
    """Header and rows as plain lines no wider than `width` (None: nothing is cut)."""
    widths = column_widths(headers, rows, width, flexible)
    return [format_row(headers, widths), *(format_row(r, widths) for r in rows)]


def dump(items: Sequence[Mapping[str, object]], fmt: str) -> str:
    """The objects as a kubectl `List` in JSON (indented) or YAML."""
    listing = {"apiVersion": "v1", "kind": "List", "items": list(items)}
    if fmt == "yaml":
        import yaml

        return str(yaml.safe_dump(listing, sort_keys=False, default_flow_style=False))
    return json.dumps(listing, indent=2) + "\n"
