"""`klt demo`: the sandbox, the operator, Prometheus and three podtato-head versions, start to finish.

Role: the newcomer's first command (`make demo`). `run(args)` starts the stack (stack.py), plays
the story of scenario.py (0.1.0 passes, 0.2.0 fails a post-deployment evaluation, 0.3.0 fails a
pre-deployment task and its pods stay gated) with live progress, then prints per app version its
timeline (lifecycle.commands.timeline), its events, where the trace file and metrics are, and the commands
to look around that still work (those of the live cluster only with `--keep`, which leaves
everything running until Ctrl-C).

Exit code: 0 only when every version ended as expected; 1 otherwise, and also (as a two-line
`error:`/`hint:` message, lifecycle.commands.errors) when `--out` cannot be written or a prerequisite
(Prometheus binary, deno) is missing. Everything started is stopped before returning, also on
Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import time
from pathlib import Path

import aiohttp
from rich.console import Console, Group
from rich.rule import Rule
from rich.text import Text

from lifecycle.commands import gantt, timeline
from lifecycle.commands.errors import CliError
from lifecycle.commands.promlocal import PROMETHEUS
from lifecycle.commands.trace import workload_versions_of
from lifecycle.core.kubebodies import EventBody
from lifecycle.core.model import KEPTN_TASK
from lifecycle.demo.manifests import NAMESPACE
from lifecycle.demo.scenario import Outcome, expected, failure_reason, play
from lifecycle.demo.stack import KUBECTL, ApplyError, Stack
from lifecycle.demo.view import events_table

__all__ = ["add_arguments", "run"]

_FLOW_SUFFIXES = ("Started", "Succeeded", "Errored")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the `klt demo` flags."""
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("demo-out"),
        help="where the kubeconfig, trace file, metrics and manifests go (default ./demo-out)",
    )
    parser.add_argument(
        "--keep", action="store_true", help="leave the sandbox and operator running until Ctrl-C"
    )
    parser.add_argument(
        "--no-kubectl", action="store_true", help="apply through the API even if kubectl exists"
    )
    parser.add_argument(
        "--pod-start-delay", type=float, default=0.3, help="seconds from ungated pod to Running"
    )
    parser.add_argument("--step-timeout", type=float, default=90.0, help="seconds per version")
    parser.add_argument(
        "--ui-port", type=int, default=3100, help="port of the release view with --keep (0: any)"
    )
    parser.add_argument("--width", type=int, default=None, help="columns (default: terminal)")


def _missing() -> list[str]:
    from sandbox.node.settings import find_deno

    missing = []
    if not Path(PROMETHEUS).exists():
        missing.append(f"{PROMETHEUS} (Debian's prometheus)")
    if find_deno() is None:
        missing.append("deno (npm install --prefix .tools deno)")
    return missing


def _check_out(out: Path) -> None:
    """--out must be a directory we can write (created if missing): a CliError otherwise."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".klt-write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise CliError(
            f"cannot write to --out {out}: {exc.strerror or exc}",
            "pass --out with a writable directory (default ./demo-out)",
        ) from exc


def _shown(path: Path) -> str:
    with contextlib.suppress(ValueError):
        return str(path.relative_to(Path.cwd()))
    return str(path)


async def _snapshot_metrics(stack: Stack) -> None:
    try:
        async with aiohttp.ClientSession() as session, session.get(stack.metrics_url) as resp:
            text = await resp.text()
    except aiohttp.ClientError:
        return
    await asyncio.to_thread(stack.paths.metrics.write_text, text)


async def _prometheus_lines(stack: Stack) -> list[Text]:
    """What Prometheus scraped from the operator: finished app versions by version and result."""
    assert stack.prometheus is not None
    query = (
        "sum by (keptn_deployment_app_version, keptn_deployment_app_status) "
        "(keptn_app_count_total) > 0"
    )
    result = await stack.prometheus.query(query)
    cells = sorted(
        f"{r['metric'].get('keptn_deployment_app_version', '?')} "
        f"{r['metric'].get('keptn_deployment_app_status', '?')}"
        for r in result
    )
    if not cells:
        return [
            Text("  (no scrape yet: Prometheus waits 5 s before its first scrape)", style="dim")
        ]
    return [Text(f"  {query}  ->  {', '.join(cells)}", style="dim")]


def _is_flow_event(event: EventBody) -> bool:
    reason = str(event.get("reason", ""))
    return reason.endswith(_FLOW_SUFFIXES) or reason in ("Completed", "CreateAppVersion")


async def _report(stack: Stack, outcomes: list[Outcome], console: Console, *, keep: bool) -> None:
    assert stack.client is not None
    kubeconfig = _shown(stack.paths.kubeconfig)
    now_ns = time.time_ns()
    width = min(console.width, 140)
    for outcome in outcomes:
        ok = expected(outcome)
        mark = (
            Text("✔ as expected", style="green")
            if ok
            else Text(f"✘ {outcome.problem}", style="bold red")
        )
        console.print(Rule(f"podtato-head {outcome.step.version}: {outcome.state}", align="left"))
        console.print(Text(f"{outcome.step.story}; expected {outcome.step.expect_state}: ") + mark)
        if outcome.app_version is None:
            continue
        workloads = await workload_versions_of(stack.client, outcome.app_version)
        tl = timeline.from_status(outcome.app_version, workloads, now_ns=now_ns)
        console.print(gantt.render(tl, width=width), soft_wrap=True)
        shown = [
            e
            for e in outcome.events
            if (e["involvedObject"]["name"] == outcome.name and _is_flow_event(e))
            or "Errored" in str(e.get("reason"))
        ]
        console.print(
            events_table(
                shown,
                title=f"flow events of {outcome.name} and errors of its workloads",
                width=console.width,
            )
        )
        hidden = len(outcome.events) - len(shown)
        if hidden > 0:
            console.print(
                Text(
                    f"  … and {hidden} more events of it and its workload versions: "
                    f"kubectl --kubeconfig {kubeconfig} get events -n {NAMESPACE}",
                    style="dim",
                )
            )
        for child in outcome.failed_children:
            console.print(Text(f"why: {failure_reason(child)}", style="red"))  # wraps at words
            task = KEPTN_TASK.view(child) if child.get("kind") == KEPTN_TASK.kind else None
            job = (task or {}).get("status", {}).get("jobName")
            if job and stack.use_kubectl:
                with contextlib.suppress(ApplyError):
                    logs = await stack.kubectl("logs", f"job/{job}", "-n", NAMESPACE, "--tail", "5")
                    console.print(Text(f"$ kubectl logs job/{job}", style="bold"))
                    console.print(logs.rstrip(), highlight=False, markup=False)
        if outcome.step.held_workload and not stack.use_kubectl:
            for pod in outcome.held_pods:
                gates = [g.get("name") for g in pod["spec"].get("schedulingGates") or ()]
                phase = pod.get("status", {}).get("phase")
                console.print(f"pod {pod['metadata']['name']}: {phase}, schedulingGates {gates}")
        if outcome.step.held_workload and stack.use_kubectl:
            selector = f"component={outcome.step.held_workload}"
            pods = await stack.kubectl("get", "pods", "-n", NAMESPACE, "-l", selector)
            console.print(Text(f"$ kubectl get pods -n {NAMESPACE} -l {selector}", style="bold"))
            console.print(pods.rstrip(), highlight=False)
    await _snapshot_metrics(stack)
    await asyncio.sleep(1.2)  # one more scrape, so Prometheus has seen the last version finish
    spans = _shown(stack.paths.spans)
    last = outcomes[-1].name if outcomes else "podtato-head"
    lines: list[Text | Rule] = [
        Rule("look around", align="left"),
        Text(f"trace file (JSON lines, one span per line): {spans}"),
        Text(
            f"operator metrics: {_shown(stack.paths.metrics)} (snapshot of {stack.metrics_url}, "
            "which Prometheus scraped every second)"
        ),
        *await _prometheus_lines(stack),
        Text(
            f"operator log: {_shown(stack.paths.operator_log)}; "
            f"manifests applied: {_shown(stack.paths.manifests)}/"
        ),
        *_hints(keep, kubeconfig, last, spans),
    ]
    console.print(Group(*lines))


def _hints(keep: bool, kubeconfig: str, last: str, spans: str) -> list[Text]:
    """Commands to try that still work: the live cluster's only while --keep holds it up."""
    offline = Text(f"klt trace {last} --spans {spans}", style="bold")
    if not keep:
        return [
            offline,
            Text("to look at the live cluster, run `klt demo --keep` (`make demo KEEP=1`)"),
        ]
    return [
        Text(f"kubectl --kubeconfig {kubeconfig} get kav,kwv,events -n {NAMESPACE}", style="bold"),
        Text(f"klt status --kubeconfig {kubeconfig}", style="bold"),
        Text(f"klt trace {last} --kubeconfig {kubeconfig}", style="bold"),
        Text(f"{offline.plain}   (also after the demo ended)", style="bold"),
    ]


async def _keep(stack: Stack, console: Console, ui_port: int) -> None:
    """Serve the release view (`klt ui`) beside the kept stack until Ctrl-C or SIGTERM."""
    from lifecycle.ui import serve

    ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    ui = asyncio.create_task(
        serve(str(stack.paths.kubeconfig), None, "127.0.0.1", ui_port, ready=ready)
    )
    try:
        await asyncio.wait((ui, ready), return_when=asyncio.FIRST_COMPLETED)
        if ready.done():
            console.print(f"release view (klt ui): {ready.result()}")
        else:
            console.print(Text(f"release view not served: {ui.exception()}", style="yellow"))
        console.print(
            Text(
                "still running (--keep): use the commands above; Ctrl-C stops everything",
                style="bold",
            )
        )
        # Ctrl-C or SIGTERM cancels this wait: the deliberate end of --keep, not a failure.
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.Event().wait()
    finally:
        ui.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await ui


async def _main(args: argparse.Namespace, console: Console) -> int:
    loop = asyncio.get_running_loop()
    main_task = asyncio.current_task()
    assert main_task is not None
    with contextlib.suppress(NotImplementedError):
        loop.add_signal_handler(signal.SIGTERM, main_task.cancel)
    console.print(
        Text("klt demo: starting the sandbox cluster, the operator and Prometheus …", style="bold")
    )
    stack = await Stack.start(
        args.out,
        pod_start_delay=args.pod_start_delay,
        use_kubectl=False if args.no_kubectl else None,
    )
    try:
        assert stack.sandbox is not None and stack.prometheus is not None
        console.print(
            f"  sandbox {stack.sandbox.https_url}, kubeconfig {_shown(stack.paths.kubeconfig)}; "
            f"operator metrics {stack.metrics_url}; Prometheus {stack.prometheus.url}; "
            f"applying with {'kubectl' if stack.use_kubectl else 'the API (no kubectl)'}"
        )
        outcomes = await play(stack, console, step_timeout=args.step_timeout)
        await _report(stack, outcomes, console, keep=args.keep)
        good = all(expected(o) for o in outcomes) and len(outcomes) == 3
        verdict = (
            "every version ended as expected" if good else "some version did not end as expected"
        )
        console.print(Text(f"klt demo: {verdict}", style="bold green" if good else "bold red"))
        if args.keep:
            await _keep(stack, console, args.ui_port)
        return 0 if good else 1
    finally:
        await stack.stop()


def run(args: argparse.Namespace) -> int:
    """Run the demo; see the module docstring for the exit codes."""
    console = Console(width=args.width) if args.width else Console()
    _check_out(args.out)
    missing = _missing()
    if missing:
        raise CliError("missing " + ", ".join(missing), "run `bash scripts/bootstrap.sh`")
    if not Path(KUBECTL).exists() and not args.no_kubectl:
        console.print(
            Text(f"{KUBECTL} not found: applying through the API instead", style="yellow")
        )
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    try:
        return asyncio.run(_main(args, console))
    except (KeyboardInterrupt, asyncio.CancelledError):
        console.print(Text("klt demo: stopped", style="yellow"))
        return 130
