"""The container runtime of the simulated node: really runs KLT's function runners.

Plans per container (``plan_container``, pure):
- image containing ``deno-runtime`` (or the older ``functions-runtime``): Deno, as KLT's deno
  image runs it: ``deno run --allow-net --allow-write --allow-read
  --allow-env=DATA,SECURE_DATA,KEPTN_CONTEXT "$SCRIPT"``, DENO_DIR under the node's work dir;
- image containing ``python-runtime``: ``python3 $CMD_ARGS $SCRIPT``, or for an http(s) SCRIPT
  ``curl -s $SCRIPT | python3 $CMD_ARGS -`` (the download is done with aiohttp here);
- any other image: a simulated outcome from the pod annotations ``sandbox.klt.dev/outcome``
  (succeed|fail|run) and ``sandbox.klt.dev/duration`` (seconds) when set; a pod with
  restartPolicy Always (a service) just runs;
- a Job pod (a KLT ``container:`` task) whose image is a general-purpose userland
  (``SHELL_IMAGES``: busybox, alpine, debian, ubuntu, python, bash, ...): its ``command`` +
  ``args`` (or ``args`` alone: these images have no entrypoint) run with the machine's shell
  and tools, in the pod's scratch directory, with the container's env (KEPTN_CONTEXT, ...);
  no command at all runs the image's default shell on empty input (exit 0);
- any other Job pod: the node's default outcome (``klt sandbox --container-outcome``), else it
  cannot start (ErrImagePull-like waiting state whose message names the image and both ways out).

Env and files come from podconfig.py (volumes materialised under the pod's scratch dir, env
values pointing into a mount path rewritten to the local copy). ``prepare`` resolves all of
that first, so a missing secret is a retried CreateContainerConfigError, not a failed run.
The child gets a clean env (PATH, HOME, HOSTNAME plus the container's env), never the node's
own environment; cancelling ``execute`` kills the child's whole process group.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import os
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import aiohttp

from sandbox.node.podconfig import ConfigError, ObjectSource, PodConfig, rewrite
from sandbox.node.settings import NodeSettings, Outcome, find_deno

__all__ = [
    "DURATION_ANNOTATION",
    "OUTCOME_ANNOTATION",
    "SHELL_IMAGES",
    "ConfigError",
    "ContainerPlan",
    "DownloadError",
    "ObjectSource",
    "PlanKind",
    "Prepared",
    "RunResult",
    "Runtime",
    "image_repository",
    "plan_container",
]

Body = dict[str, Any]

OUTCOME_ANNOTATION = "sandbox.klt.dev/outcome"
DURATION_ANNOTATION = "sandbox.klt.dev/duration"
_URL = re.compile(r"^(https?|ftp|file)://")
_DENO_IMAGES = ("deno-runtime", "functions-runtime")
_PYTHON_IMAGES = ("python-runtime",)
SHELL_IMAGES = frozenset(
    {
        "busybox",
        "alpine",
        "debian",
        "ubuntu",
        "python",
        "bash",
        "fedora",
        "centos",
        "rockylinux",
        "almalinux",
        "amazonlinux",
        "archlinux",
    }
)
"""Image repositories (last path part, any tag) whose commands the node runs with its own shell."""


def image_repository(image: str) -> str:
    """``registry:5000/library/busybox:1.36@sha256:..`` -> ``busybox``."""
    name = image.split("@", 1)[0].rsplit("/", 1)[-1]
    return name.split(":", 1)[0].lower()


class DownloadError(Exception):
    """An httpRef script could not be fetched: the container fails, as the runner would."""


class PlanKind(enum.Enum):
    """How a container is run."""

    DENO = "deno"
    PYTHON = "python"
    SHELL = "shell"
    SIMULATED = "simulated"
    UNRUNNABLE = "unrunnable"


@dataclass(frozen=True, slots=True)
class ContainerPlan:
    """The runtime's decision for one container."""

    kind: PlanKind
    outcome: Outcome = Outcome.RUN
    duration: float = 0.0
    message: str = ""


def plan_container(pod: Body, container: Body, settings: NodeSettings) -> ContainerPlan:
    """Decide how to run a container (pure)."""
    image = str(container.get("image", ""))
    if any(tag in image for tag in _DENO_IMAGES):
        return ContainerPlan(PlanKind.DENO)
    if any(tag in image for tag in _PYTHON_IMAGES):
        return ContainerPlan(PlanKind.PYTHON)
    notes = pod.get("metadata", {}).get("annotations") or {}
    try:
        duration = float(notes.get(DURATION_ANNOTATION, settings.default_duration))
    except ValueError:
        duration = settings.default_duration
    raw = notes.get(OUTCOME_ANNOTATION)
    if raw is not None:
        try:
            return ContainerPlan(PlanKind.SIMULATED, Outcome(str(raw).lower()), duration)
        except ValueError:
            return ContainerPlan(
                PlanKind.UNRUNNABLE,
                message=f"annotation {OUTCOME_ANNOTATION}={raw!r} is not one of succeed, fail, run",
            )
    if pod.get("spec", {}).get("restartPolicy", "Always") == "Always":
        return ContainerPlan(PlanKind.SIMULATED, Outcome.RUN)
    if image_repository(image) in SHELL_IMAGES:
        return ContainerPlan(PlanKind.SHELL)
    if settings.default_outcome is not None:
        return ContainerPlan(PlanKind.SIMULATED, settings.default_outcome, duration)
    return ContainerPlan(
        PlanKind.UNRUNNABLE,
        message=(
            f'the sandbox cannot run image "{image}": it runs KLT\'s function runners '
            "(deno-runtime, python-runtime) and the commands of general-purpose images "
            f"({', '.join(sorted(SHELL_IMAGES))}); start the sandbox with "
            "`klt sandbox --container-outcome succeed|fail` or annotate the task's pod "
            f"(the KeptnTaskDefinition's metadata.annotations) with {OUTCOME_ANNOTATION}: "
            "succeed|fail"
        ),
    )


_DENO_FLAGS = (
    "run",
    "--no-prompt",
    "--allow-net",
    "--allow-write",
    "--allow-read",
    "--allow-env=DATA,SECURE_DATA,KEPTN_CONTEXT",
)


@dataclass(frozen=True, slots=True)
class RunResult:
    """How a container ended."""

    exit_code: int
    output: str
    message: str = ""

    @property
    def reason(self) -> str:
        return "Completed" if self.exit_code == 0 else "Error"


@dataclass(frozen=True, slots=True)
class Prepared:
    """A container ready to start: the command, or a result known in advance."""

    plan: ContainerPlan
    argv: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    stdin: bytes | None = None
    failure: RunResult | None = None


class Runtime:
    """Runs containers of pods bound to the node."""

    def __init__(self, *, settings: NodeSettings, source: ObjectSource, work_dir: Path) -> None:
        self._settings = settings
        self._config = PodConfig(source)
        self._work = work_dir
        self._http: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        """Close the download session."""
        if self._http is not None:
            await self._http.close()

    async def prepare(self, pod: Body, container: Body, plan: ContainerPlan) -> Prepared:
        """Resolve env, files and the command; ConfigError when something is missing (retry)."""
        if plan.kind is PlanKind.SIMULATED:
            return Prepared(plan=plan)
        meta = pod["metadata"]
        scratch = self._work / "pods" / str(meta.get("uid") or meta["name"]) / container["name"]
        scratch.mkdir(parents=True, exist_ok=True)
        env = await self._config.env(pod, container)
        mounts = await self._config.mount(pod, container, scratch / "fs")
        env = {k: rewrite(v, mounts) for k, v in env.items()}
        if plan.kind is PlanKind.SHELL:
            argv = [*(container.get("command") or ()), *(container.get("args") or ())]
            argv = [rewrite(str(a), mounts) for a in argv] or ["sh"]  # the images' default CMD
            return Prepared(
                plan=plan, argv=tuple(argv), env=self._child_env(meta, scratch, env), cwd=scratch
            )
        script, cmd_args = env.get("SCRIPT", ""), env.get("CMD_ARGS", "").split()
        if not script:
            return Prepared(
                plan=plan, failure=RunResult(1, "", "SCRIPT is empty: no function to run")
            )
        stdin: bytes | None = None
        try:
            if plan.kind is PlanKind.DENO:
                deno = self._settings.deno or find_deno()
                if deno is None:
                    failure = RunResult(127, "", "deno not found: run scripts/bootstrap.sh")
                    return Prepared(plan=plan, failure=failure)
                if _URL.match(script):
                    suffix = PurePosixPath(script.split("?")[0]).suffix or ".ts"
                    target = scratch / f"function{suffix}"
                    target.write_bytes(await self._download(script))
                    script = str(target)
                argv = [deno, *_DENO_FLAGS, script]
            elif _URL.match(script):
                stdin = await self._download(script)
                argv = [self._settings.python, *cmd_args, "-"]
            else:
                argv = [self._settings.python, *cmd_args, script]
        except DownloadError as exc:
            return Prepared(plan=plan, failure=RunResult(1, f"{exc}\n", str(exc)))
        child_env = self._child_env(meta, scratch, env)
        return Prepared(plan=plan, argv=tuple(argv), env=child_env, cwd=scratch, stdin=stdin)

    def _child_env(self, meta: Body, scratch: Path, env: dict[str, str]) -> dict[str, str]:
        """A clean environment: PATH, HOME (the scratch dir), HOSTNAME, plus the container's env."""
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(scratch),
            "HOSTNAME": str(meta["name"]),
            "LANG": "C.UTF-8",
            "NO_COLOR": "1",
            "DENO_DIR": str(self._work / "deno-dir"),
            "DENO_NO_UPDATE_CHECK": "1",
            "PYTHONUNBUFFERED": "1",
            **env,
        }

    async def execute(self, prepared: Prepared) -> RunResult:
        """Run a prepared container to its end."""
        if prepared.failure is not None:
            return prepared.failure
        if prepared.plan.kind is PlanKind.SIMULATED:
            return await self._simulate(prepared.plan)
        assert prepared.cwd is not None
        return await self._exec(list(prepared.argv), prepared.env, prepared.cwd, prepared.stdin)

    async def _simulate(self, plan: ContainerPlan) -> RunResult:
        if plan.outcome is Outcome.RUN:
            await asyncio.Event().wait()  # until the pod is deleted (cancelled)
        await asyncio.sleep(plan.duration)
        if plan.outcome is Outcome.SUCCEED:
            return RunResult(0, f"sandbox: simulated success after {plan.duration:g}s\n")
        return RunResult(
            1, f"sandbox: simulated failure after {plan.duration:g}s\n", "simulated failure"
        )

    async def _exec(
        self, argv: list[str], env: dict[str, str], cwd: Path, stdin: bytes | None
    ) -> RunResult:
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                cwd=cwd,
                env=env,
                stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as exc:  # as a container runtime: not found 127, not executable 126
            code = 127 if isinstance(exc, FileNotFoundError) else 126
            text = f"exec {argv[0]!r}: {exc.strerror or exc}"
            return RunResult(code, text + "\n", text)
        out = bytearray()
        limit = self._settings.log_limit
        try:
            if stdin is not None and proc.stdin is not None:
                proc.stdin.write(stdin)
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    await proc.stdin.drain()
                proc.stdin.close()
            assert proc.stdout is not None
            while chunk := await proc.stdout.read(65536):
                out += chunk
                if len(out) > limit:
                    del out[: len(out) - limit]
            code = await proc.wait()
        except asyncio.CancelledError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, 9)
            with contextlib.suppress(Exception):
                await asyncio.shield(proc.wait())
            raise
        return RunResult(code, out.decode("utf-8", "replace"))

    async def _download(self, url: str) -> bytes:
        if url.startswith("file://"):
            try:
                return await asyncio.to_thread(Path(url[len("file://") :]).read_bytes)
            except OSError as exc:
                raise DownloadError(f"reading {url}: {exc}") from exc
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))
        try:
            async with self._http.get(url) as resp:
                if resp.status >= 300:
                    raise DownloadError(f"fetching {url}: HTTP {resp.status}")
                return await resp.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise DownloadError(f"fetching {url}: {exc!r}") from exc
