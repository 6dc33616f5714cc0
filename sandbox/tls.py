"""A throw-away CA and serving certificate for the sandbox's HTTPS port.

kubectl (client-go) only sends a kubeconfig's bearer token over TLS, so the sandbox serves
HTTPS for kubeconfig users and keeps a plain-HTTP port on loopback for in-process clients.
The certificates are the operator's (lifecycle.operator.certs: EC P-256, always naming
127.0.0.1). Nothing here is meant to protect anything beyond loopback.
"""

from __future__ import annotations

import datetime
import ssl
from dataclasses import dataclass
from pathlib import Path

from lifecycle.operator.certs import generate_pems, write_serving

__all__ = ["ServingCert", "make_serving_cert"]


@dataclass(frozen=True, slots=True)
class ServingCert:
    """PEM files of the CA and the server certificate, plus the CA PEM text."""

    ca_pem: bytes
    cert_path: Path
    key_path: Path
    ca_path: Path

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(self.cert_path, self.key_path)
        return ctx


def make_serving_cert(
    directory: Path, hosts: tuple[str, ...] = ("127.0.0.1", "localhost")
) -> ServingCert:
    """Write ca.crt, tls.crt and tls.key into `directory` and return their paths."""
    names = [host for host in hosts if host != "127.0.0.1"] or ["localhost"]
    now = datetime.datetime.now(datetime.UTC)
    pems = generate_pems(names, now, datetime.timedelta(days=365))
    bundle = write_serving(directory, pems)
    return ServingCert(pems.ca, bundle.cert_file, bundle.key_file, bundle.ca_file)
