"""The Authorization header of API requests: static token, token file, basic auth, exec plugin.

Role: `Credentials.authorization()` gives the header value for the next request (None: none),
`Credentials.expired()` drops what a 401 says is stale so the next request fetches it again.
A token file is read again once a minute (client-go's period: projected service-account
tokens rotate under a running process). An exec credential plugin (apiVersion
client.authentication.k8s.io/v1 or v1beta1) is run when no unexpired credential is cached;
a plugin that answers with a client certificate has it loaded into the TLS context for the
next connections. The plugin's stderr goes to ours (it may prompt there, as under kubectl).

Invariants: standard library only; never logs or formats a credential into a message.
"""

from __future__ import annotations

import base64
import json
import os
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import ssl

__all__ = ["Credentials", "ExecPlugin", "KubeconfigError", "TokenFile"]

TOKEN_FILE_PERIOD = 60.0
"""Seconds a token read from a file is used before the file is read again."""


class KubeconfigError(ValueError):
    """A kubeconfig (or in-cluster setup, or credential plugin) that cannot be used; the
    message names the file and field."""


@dataclass(slots=True)
class TokenFile:
    """A bearer token read from a file, again after TOKEN_FILE_PERIOD seconds."""

    path: str
    _token: str = ""
    _read_at: float = -TOKEN_FILE_PERIOD

    def token(self) -> str:
        if time.monotonic() - self._read_at >= TOKEN_FILE_PERIOD:
            token = Path(self.path).read_text(encoding="utf-8").strip()
            if not token:
                raise KubeconfigError(f"the token file {self.path} is empty")
            self._token, self._read_at = token, time.monotonic()
        return self._token

    def expire(self) -> None:
        self._read_at = -TOKEN_FILE_PERIOD


@dataclass(slots=True)
class ExecPlugin:
    """A client-go credential plugin (`users[].user.exec`)."""

    command: list[str]
    api_version: str
    env: dict[str, str]
    where: str
    interactive: bool = True
    install_hint: str = ""
    cluster: dict[str, Any] | None = None
    """Sent in KUBERNETES_EXEC_INFO when the plugin asks for it (provideClusterInfo)."""

    @classmethod
    def from_config(cls, config: dict[str, Any], where: str, server: str) -> ExecPlugin:
        """Check and read an `exec` stanza (`where` names it in errors)."""
        for key in ("command", "apiVersion"):
            if not isinstance(config.get(key), str) or not config[key]:
                raise KubeconfigError(f"{where}.{key}: is not set")
        args = config.get("args") or []
        if not isinstance(args, list):
            raise KubeconfigError(f"{where}.args: must be a list")
        env = {}
        for i, item in enumerate(config.get("env") or ()):
            if not isinstance(item, dict) or "name" not in item:
                raise KubeconfigError(f"{where}.env[{i}]: needs a name and a value")
            env[str(item["name"])] = str(item.get("value", ""))
        return cls(
            command=[config["command"], *map(str, args)],
            api_version=config["apiVersion"],
            env=env,
            where=where,
            interactive=config.get("interactiveMode") != "Never",
            install_hint=str(config.get("installHint") or "").strip(),
            cluster={"server": server} if config.get("provideClusterInfo") else None,
        )

    async def run(self) -> dict[str, Any]:
        """Run the plugin; its ExecCredential's status."""
        import asyncio.subprocess

        info: dict[str, Any] = {"interactive": self.interactive and sys.stdin.isatty()}
        if self.cluster:
            info["cluster"] = self.cluster
        request = {"apiVersion": self.api_version, "kind": "ExecCredential", "spec": info}
        env = {**os.environ, **self.env, "KUBERNETES_EXEC_INFO": json.dumps(request)}
        try:
            proc = await asyncio.create_subprocess_exec(
                *self.command,
                env=env,
                stdin=None if info["interactive"] else asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
            )
        except OSError as exc:
            hint = f" ({self.install_hint})" if self.install_hint else ""
            raise KubeconfigError(
                f"{self.where}.command: {exc.strerror}: {self.command[0]}{hint}"
            ) from exc
        out, _ = await proc.communicate()
        if proc.returncode:
            raise KubeconfigError(
                f"{self.where}: the credential plugin {self.command[0]} exited with "
                f"{proc.returncode}"
            )
        try:
            answer = json.loads(out)
            status = answer["status"]
        except (ValueError, KeyError, TypeError) as exc:
            raise KubeconfigError(
                f"{self.where}: the credential plugin {self.command[0]} printed no ExecCredential"
            ) from exc
        if answer.get("apiVersion") != self.api_version or not isinstance(status, dict):
            raise KubeconfigError(
                f"{self.where}: the credential plugin answered apiVersion "
                f"{answer.get('apiVersion')!r}, not {self.api_version}"
            )
        return status


@dataclass(slots=True)
class Credentials:
    """What authenticates a client; at most one source is used, in kubectl's order."""

    token: str | None = None
    token_file: TokenFile | None = None
    basic: tuple[str, str] | None = None
    exec: ExecPlugin | None = None
    tls: ssl.SSLContext | None = None
    """The TLS context a plugin's client certificate goes into (set by ClusterAccess)."""
    _exec_token: str | None = field(default=None, repr=False)
    _exec_until: float = 0.0

    @property
    def refreshable(self) -> bool:
        """A 401 may be cured by fetching the credential again."""
        return self.token_file is not None or (self.exec is not None and not self.token)

    async def authorization(self) -> str | None:
        """The Authorization header value, or None."""
        if self.token:
            return f"Bearer {self.token}"
        if self.token_file is not None:
            return f"Bearer {self.token_file.token()}"
        if self.exec is not None:
            if time.time() >= self._exec_until:
                await self._run_exec(self.exec)
            return f"Bearer {self._exec_token}" if self._exec_token else None
        if self.basic is not None:
            pair = base64.b64encode(":".join(self.basic).encode()).decode()
            return f"Basic {pair}"
        return None

    async def _run_exec(self, plugin: ExecPlugin) -> None:
        status = await plugin.run()
        if status.get("token"):
            self._exec_token = str(status["token"])
        elif status.get("clientCertificateData") and status.get("clientKeyData"):
            from lifecycle.kube.kubeconfig import load_cert_chain

            if self.tls is None:
                raise KubeconfigError(f"{plugin.where}: a client certificate needs an https server")
            cert = str(status["clientCertificateData"]).encode()
            load_cert_chain(self.tls, cert, str(status["clientKeyData"]).encode())
        else:
            raise KubeconfigError(
                f"{plugin.where}: the credential plugin gave neither a token nor a client "
                "certificate and key"
            )
        stamp = status.get("expirationTimestamp")
        self._exec_until = datetime.fromisoformat(str(stamp)).timestamp() if stamp else float("inf")

    def expired(self) -> None:
        """The server refused the credential: fetch it again for the next request."""
        if self.token_file is not None:
            self.token_file.expire()
        self._exec_until = 0.0
