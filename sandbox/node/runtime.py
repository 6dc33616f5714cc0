"""The container runtime of the simulated node: really runs KLT's function runners.

Plans per container (``plan_container``, pure):
- image containing ``deno-runtime`` (or the older ``functions-runtime``): Deno, as KLT's deno
  image runs it: ``deno run --allow-net --allow-write --allow-read
  --allow-env=DATA,SECURE_DATA,KEPTN_CONTEXT "$SCRIPT"``, DENO_DIR under the node's work dir;
- image containing ``python-runtime``: ``python3 $CMD_ARGS $SCRIPT``, or for an http(s) SCRIPT
  ``curl -s $SCRIPT | python3 $CMD_ARGS -`` (the download is done with aiohttp here);
- any other image: a simulated outcome from the pod annotations ``sandbox.klt.dev/outcome``
  (succeed|fail|run) and ``sandbox.klt.dev/duration`` (seconds), else the node's default; a
  pod with restartPolicy Always (a service) just runs; a Job pod with no outcome cannot start
  (ErrImagePull-like waiting state with a message saying why).

Files: every configMap/secret/emptyDir volumeMount is materialised under the pod's scratch dir
(``items``, ``subPath`` honoured) and env values pointing into a mount path are rewritten to
the scratch copy, so SCRIPT=/var/data/function.ts works. Env valueFrom secretKeyRef,
configMapKeyRef and fieldRef are resolved through the API. The child gets a clean env (PATH,
HOME, HOSTNAME plus the container's env), never the node's own environment.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import enum
import os
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

import aiohttp

from sandbox.node.client import CONFIGMAPS, SECRETS, NotFound, Resource
from sandbox.node.settings import NODE_NAME, NodeSettings, Outcome

__all__ = [
    "DURATION_ANNOTATION",
    "OUTCOME_ANNOTATION",
    "ConfigError",
    "ContainerPlan",
    "DownloadError",
    "ObjectSource",
    "PlanKind",
    "Prepared",
    "RunResult",
    "Runtime",
    "plan_container",
]

Body = dict[str, Any]

OUTCOME_ANNOTATION = "sandbox.klt.dev/outcome"
DURATION_ANNOTATION = "sandbox.klt.dev/duration"
_URL = re.compile(r"^(https?|ftp|file)://")
_DENO_IMAGES = ("deno-runtime", "functions-runtime")
_PYTHON_IMAGES = ("python-runtime",)


class ObjectSource(Protocol):
    """Where ConfigMaps and Secrets come from (the API client)."""

    async def get(self, res: Resource, namespace: str | None, name: str) -> Body: ...


class ConfigError(Exception):
    """The container cannot be configured yet (missing secret, key, configmap): retried."""


class DownloadError(Exception):
    """An httpRef script could not be fetched: the container fails, as the runner would."""


class PlanKind(enum.Enum):
    """How a container is run."""

    DENO = "deno"
    PYTHON = "python"
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
    if settings.default_outcome is not None:
        return ContainerPlan(PlanKind.SIMULATED, settings.default_outcome, duration)
    return ContainerPlan(
        PlanKind.UNRUNNABLE,
        message=(
            f'image "{image}" is neither a KLT function runner (deno-runtime, python-runtime) '
            f"nor simulated: set the pod annotation {OUTCOME_ANNOTATION}: succeed|fail "
            "or the sandbox's default outcome"
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
        self._source = source
        self._work = work_dir
        self._http: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        """Close the download session."""
        if self._http is not None:
            await self._http.close()

    async def run(self, pod: Body, container: Body, plan: ContainerPlan) -> RunResult:
        """Prepare and run one container to its end (cancel the task to kill it)."""
        return await self.execute(await self.prepare(pod, container, plan))

    async def prepare(self, pod: Body, container: Body, plan: ContainerPlan) -> Prepared:
        """Resolve env, files and the command; ConfigError when something is missing (retry)."""
        if plan.kind is PlanKind.SIMULATED:
            return Prepared(plan=plan)
        meta = pod["metadata"]
        scratch = self._work / "pods" / str(meta.get("uid") or meta["name"]) / container["name"]
        scratch.mkdir(parents=True, exist_ok=True)
        env = await self.container_env(pod, container)
        mounts = await self._mount(pod, container, scratch / "fs")
        env = {k: _rewrite(v, mounts) for k, v in env.items()}
        script, cmd_args = env.get("SCRIPT", ""), env.get("CMD_ARGS", "").split()
        if not script:
            return Prepared(
                plan=plan, failure=RunResult(1, "", "SCRIPT is empty: no function to run")
            )
        stdin: bytes | None = None
        try:
            if plan.kind is PlanKind.DENO:
                deno = self._settings.deno_path()
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
        child_env = {
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
        return Prepared(plan=plan, argv=tuple(argv), env=child_env, cwd=scratch, stdin=stdin)

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
        proc = await asyncio.create_subprocess_exec(
            *argv,
            cwd=cwd,
            env=env,
            stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
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

    async def _object(
        self, res: Resource, namespace: str, name: str, optional: bool
    ) -> Body | None:
        try:
            return await self._source.get(res, namespace, name)
        except NotFound:
            if optional:
                return None
            kind = "secret" if res is SECRETS else "configmap"
            raise ConfigError(f'{kind} "{name}" not found') from None

    async def _data(
        self, res: Resource, namespace: str, name: str, optional: bool
    ) -> dict[str, str]:
        obj = await self._object(res, namespace, name, optional)
        if obj is None:
            return {}
        data = {str(k): str(v) for k, v in (obj.get("data") or {}).items()}
        if res is SECRETS:
            data = {k: base64.b64decode(v).decode("utf-8", "replace") for k, v in data.items()}
            data.update({str(k): str(v) for k, v in (obj.get("stringData") or {}).items()})
        else:
            binary = obj.get("binaryData") or {}
            data.update(
                {str(k): base64.b64decode(v).decode("utf-8", "replace") for k, v in binary.items()}
            )
        return data

    async def container_env(self, pod: Body, container: Body) -> dict[str, str]:
        """The container's environment with envFrom and valueFrom resolved."""
        ns = str(pod["metadata"].get("namespace", "default"))
        env: dict[str, str] = {}
        for source in container.get("envFrom") or []:
            prefix = str(source.get("prefix", ""))
            for ref_field, res in (("configMapRef", CONFIGMAPS), ("secretRef", SECRETS)):
                ref = source.get(ref_field)
                if ref:
                    data = await self._data(res, ns, ref["name"], bool(ref.get("optional")))
                    env.update({prefix + k: v for k, v in data.items()})
        for item in container.get("env") or []:
            name = str(item["name"])
            if "valueFrom" not in item:
                env[name] = str(item.get("value", ""))
                continue
            value_from = item["valueFrom"]
            for ref_field, res in (("secretKeyRef", SECRETS), ("configMapKeyRef", CONFIGMAPS)):
                ref = value_from.get(ref_field)
                if ref:
                    optional = bool(ref.get("optional"))
                    data = await self._data(res, ns, ref["name"], optional)
                    if ref["key"] in data:
                        env[name] = data[ref["key"]]
                    elif not optional:
                        kind = "secret" if res is SECRETS else "configmap"
                        raise ConfigError(
                            f"couldn't find key {ref['key']} in {kind} {ns}/{ref['name']}"
                        )
            if "fieldRef" in value_from:
                env[name] = _field(pod, str(value_from["fieldRef"].get("fieldPath", "")))
        return env

    async def _mount(self, pod: Body, container: Body, root: Path) -> dict[str, Path]:
        """Materialise the container's volumeMounts under root: mountPath -> local path."""
        ns = str(pod["metadata"].get("namespace", "default"))
        volumes = {v["name"]: v for v in pod.get("spec", {}).get("volumes") or []}
        mounts: dict[str, Path] = {}
        for mount in container.get("volumeMounts") or []:
            volume = volumes.get(mount.get("name"), {})
            files: dict[str, str] = {}
            for ref_field, res, ref_key in (
                ("configMap", CONFIGMAPS, "name"),
                ("secret", SECRETS, "secretName"),
            ):
                spec = volume.get(ref_field)
                if spec:
                    data = await self._data(res, ns, spec[ref_key], bool(spec.get("optional")))
                    items = spec.get("items")
                    files = (
                        {i["path"]: data[i["key"]] for i in items if i["key"] in data}
                        if items
                        else data
                    )
            mount_path = str(mount["mountPath"])
            local = root / mount_path.lstrip("/")
            sub = str(mount.get("subPath") or "")
            if sub:
                if sub not in files:
                    raise ConfigError(f"subPath {sub!r} not found in volume {mount.get('name')}")
                local.parent.mkdir(parents=True, exist_ok=True)
                local.write_text(files[sub])
            else:
                local.mkdir(parents=True, exist_ok=True)
                for rel, text in files.items():
                    target = local / rel
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_text(text)
            mounts[mount_path] = local
        return mounts


def _rewrite(value: str, mounts: dict[str, Path]) -> str:
    """Point a path inside a mount at its local copy; other values unchanged."""
    for mount_path in sorted(mounts, key=len, reverse=True):
        if value == mount_path or value.startswith(mount_path.rstrip("/") + "/"):
            return str(mounts[mount_path]) + value[len(mount_path) :]
    return value


def _field(pod: Body, path: str) -> str:
    meta, spec = pod.get("metadata", {}), pod.get("spec", {})
    simple = {
        "metadata.name": meta.get("name"),
        "metadata.namespace": meta.get("namespace"),
        "metadata.uid": meta.get("uid"),
        "spec.nodeName": spec.get("nodeName") or NODE_NAME,
        "spec.serviceAccountName": spec.get("serviceAccountName", "default"),
        "status.podIP": "127.0.0.1",
        "status.hostIP": "127.0.0.1",
    }
    if path in simple:
        return str(simple[path] or "")
    match = re.fullmatch(r"metadata\.(labels|annotations)\['(.+)'\]", path)
    if match:
        return str((meta.get(match.group(1)) or {}).get(match.group(2), ""))
    return ""
