"""One webhook certificate for every replica, kept in the Secret ``keptn-certs`` (KLT's name).

Role: ``CertKeeper.ensure()`` reads the Secret in the operator's namespace and uses it while it is
good (``lifecycle.operator.certs.reusable``); when it is missing it creates one (on 409 AlreadyExists another
replica won: its Secret is read and used); when it expires within ``renew_before`` (or lacks a name)
it rotates it with a PUT conditional on the resourceVersion read (on 409 Conflict another replica
rotated first: its Secret is read and used). During a rotation the Secret's ``ca.crt`` holds the new
CA first and the previous one after it, so a replica still serving the previous certificate stays
trusted by the caBundle until it reloads; a Secret deleted by hand is recreated the same way,
keeping the CA this replica served. The serving files are written to the replica's own
directory (the ``emptyDir``); the CA's private key exists only while signing and is never stored.
``CertKeeper.run()`` polls the Secret every ``poll`` seconds and, when its content changed, calls
``on_change`` (the composition root reloads the TLS context and writes the caBundle of both webhook
configurations). ``FileCerts`` is the alternative when cert-manager.io owns the certificate
(``CERT_MANAGER_ENABLED=false``): it reads the mounted files and reloads them when they change, and
the caBundle is left to cert-manager's ``cert-manager.io/inject-ca-from`` annotation.

RBAC (deploy/operator/rbac.yaml, Role lifecycle-operator-certs): get and update on the Secret
named keptn-certs, create on Secrets in the operator's namespace. No list or watch.

Must not: hold a CA key, write outside ``directory``, or raise out of ``run`` (errors are logged and
retried at the next poll; the replica keeps serving what it loaded).
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from dataclasses import KW_ONLY, dataclass, field
from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from lifecycle.core import model
from lifecycle.core.kubebodies import SecretBody
from lifecycle.kube.client import Body, KubeClient
from lifecycle.kube.errors import AlreadyExists, Conflict, NotFound
from lifecycle.operator.certs import (
    CertificateBundle,
    Pems,
    dns_names,
    generate_pems,
    reusable,
    serving_bundle,
    write_serving,
)

__all__ = ["SECRET_NAME", "CertKeeper", "FileCerts"]

log = logging.getLogger(__name__)

SECRET_NAME: Final = "keptn-certs"
_KEYS: Final = ("ca.crt", "tls.crt", "tls.key")
_ATTEMPTS: Final = 5

OnChange = Callable[[CertificateBundle], Awaitable[None]]


def _decode(secret: SecretBody) -> Pems | None:
    data = secret.get("data") or {}
    try:
        return Pems(*(base64.b64decode(str(data[k])) for k in _KEYS))  # ca, cert, key
    except (KeyError, ValueError):
        return None


def _encode(pems: Pems) -> dict[str, str]:
    values = (pems.ca, pems.cert, pems.key)
    return {k: base64.b64encode(v).decode() for k, v in zip(_KEYS, values, strict=True)}


def _still_trusted(previous: Pems | None, now: dt.datetime) -> bytes:
    """The CAs of ``previous`` that are still valid: kept in the bundle during a rotation."""
    if previous is None:
        return b""
    try:
        cas = x509.load_pem_x509_certificates(previous.ca)
    except ValueError:
        return b""
    pem = serialization.Encoding.PEM
    return b"".join(ca.public_bytes(pem) for ca in cas[:1] if ca.not_valid_after_utc > now)


@dataclass(eq=False)
class CertKeeper:
    """The Secret-backed certificate of one replica (see the module docstring)."""

    client: KubeClient
    _: KW_ONLY
    namespace: str
    service: str
    directory: Path
    now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)
    validity: dt.timedelta = dt.timedelta(days=365)
    renew_before: dt.timedelta = dt.timedelta(days=30)
    poll: float = 60.0
    bundle: CertificateBundle | None = field(default=None, init=False)
    _loaded: Pems | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self._names = dns_names(self.service, self.namespace)

    async def ensure(self) -> bool:
        """Make sure the Secret is good and its files are written; True when they changed."""
        pems = await self._good_secret()
        if pems == self._loaded:
            return False
        self.bundle = await asyncio.to_thread(write_serving, self.directory, pems)
        self._loaded = pems
        return True

    async def run(self, on_change: OnChange) -> None:
        """Poll the Secret; on a new certificate (rotated here or by a peer) call ``on_change``."""
        await _poll(self, on_change, self.poll, f"Secret {SECRET_NAME}")

    async def _good_secret(self) -> Pems:
        for _ in range(_ATTEMPTS):
            try:
                got = await self.client.get(model.SECRET, SECRET_NAME, self.namespace)
            except NotFound:
                # deleted by hand: keep trusting what this replica (and its peers) serve now
                pems = self._rotated(self._loaded)
                try:
                    await self.client.create(model.SECRET, self._body(pems), self.namespace)
                    log.info("created webhook certificate Secret %s", SECRET_NAME)
                    return pems
                except AlreadyExists:
                    continue  # another replica created it first: use the winner's
            secret = model.SECRET.view(got)
            current = _decode(secret)
            if current is not None and reusable(
                current, self._names, self.now(), self.renew_before
            ):
                return current
            pems = self._rotated(current)
            body = self._body(pems)
            body["metadata"]["resourceVersion"] = secret["metadata"].get("resourceVersion")
            try:
                await self.client.replace(model.SECRET, body)
                log.info("rotated webhook certificate Secret %s", SECRET_NAME)
                return pems
            except Conflict:
                continue  # another replica rotated it first: use theirs
        raise RuntimeError(f"Secret {SECRET_NAME} kept changing while being written")

    def _rotated(self, previous: Pems | None) -> Pems:
        now = self.now()
        fresh = generate_pems(self._names, now, self.validity)
        return Pems(ca=fresh.ca + _still_trusted(previous, now), cert=fresh.cert, key=fresh.key)

    def _body(self, pems: Pems) -> Body:
        return {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": SECRET_NAME,
                "namespace": self.namespace,
                "labels": {"app.kubernetes.io/name": "lifecycle-operator"},
            },
            "type": "kubernetes.io/tls",
            "data": _encode(pems),
        }


@dataclass(eq=False)
class FileCerts:
    """Certificates mounted by cert-manager.io into ``directory``: read, and reloaded on change."""

    directory: Path
    _: KW_ONLY
    poll: float = 60.0
    bundle: CertificateBundle | None = field(default=None, init=False)
    _stamp: tuple[float, ...] = field(default=(), init=False)

    async def ensure(self) -> bool:
        """Read the mounted files; True when they changed (FileNotFoundError while missing)."""
        stamp = tuple((self.directory / k).stat().st_mtime for k in ("tls.crt", "tls.key"))
        if stamp == self._stamp and self.bundle is not None:
            return False
        cert = x509.load_pem_x509_certificate((self.directory / "tls.crt").read_bytes())
        ca = self.directory / "ca.crt"
        ca_pem = ca.read_bytes() if ca.exists() else b""
        self.bundle = serving_bundle(self.directory, ca_pem, cert, reused=True)
        self._stamp = stamp
        return True

    async def run(self, on_change: OnChange) -> None:
        """Poll the mounted files; call ``on_change`` after cert-manager renewed them."""
        await _poll(self, on_change, self.poll, f"files in {self.directory}")


async def _poll(
    certs: CertKeeper | FileCerts, on_change: OnChange, every: float, what: str
) -> None:
    """Every ``every`` seconds ``certs.ensure()``; ``on_change`` when the certificate changed."""
    while True:
        await asyncio.sleep(every)
        try:
            if await certs.ensure() and certs.bundle is not None:
                log.info("webhook certificate changed (%s): reloading", what)
                await on_change(certs.bundle)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # keep serving what is loaded; try again at the next poll
            log.warning("webhook certificate (%s): %s; retrying in %.0fs", what, exc, every)
