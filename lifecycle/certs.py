"""Webhook certificates: a self-signed CA and a serving certificate for the webhook Service.

Role: ``ensure_certificates(directory, service=..., namespace=...)`` makes sure ``directory`` holds
``ca.crt``, ``tls.crt`` and ``tls.key`` for the DNS names ``<svc>``, ``<svc>.<ns>``,
``<svc>.<ns>.svc``, ``<svc>.<ns>.svc.cluster.local`` plus ``localhost`` and the IP ``127.0.0.1``
(the sandbox calls the webhook on loopback), and returns the paths and the caBundle (base64 PEM of
the CA) for the webhook configurations. Existing files are reused while they are valid for at least
``renew_before`` more and cover every requested name, so restarts and replicas sharing a volume keep
the caBundle stable; otherwise a new CA and certificate are written.

Invariants: keys are ECDSA P-256; the key file is written with mode 0600 and files are replaced
atomically (write to a temp file, then rename), so a concurrent reader never sees half a file.

Must not: talk to the API server (patching the caBundle into the webhook configurations is the
composition root's job), or read a clock other than through the ``now`` argument.
"""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["CertificateBundle", "dns_names", "ensure_certificates"]

_CA_FILE: Final = "ca.crt"
_CERT_FILE: Final = "tls.crt"
_KEY_FILE: Final = "tls.key"
_CA_KEY_FILE: Final = "ca.key"
_LOOPBACK: Final = ipaddress.ip_address("127.0.0.1")


@dataclass(frozen=True, slots=True)
class CertificateBundle:
    """Where the serving certificate lives and what to put into the webhook configurations."""

    ca_file: Path
    cert_file: Path
    key_file: Path
    ca_bundle: str  # base64 of the CA's PEM: the webhook configurations' clientConfig.caBundle
    not_after: dt.datetime
    reused: bool


def dns_names(service: str, namespace: str) -> list[str]:
    """The names a client may use for the webhook Service, plus ``localhost``."""
    base = f"{service}.{namespace}"
    return [service, base, f"{base}.svc", f"{base}.svc.cluster.local", "localhost"]


def _write(path: Path, data: bytes, mode: int = 0o644) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(tmp, path)


def _reusable(
    directory: Path, names: list[str], now: dt.datetime, renew_before: dt.timedelta
) -> x509.Certificate | None:
    try:
        cert = x509.load_pem_x509_certificate((directory / _CERT_FILE).read_bytes())
        ca = x509.load_pem_x509_certificate((directory / _CA_FILE).read_bytes())
        key = serialization.load_pem_private_key(
            (directory / _KEY_FILE).read_bytes(), password=None
        )
    except (OSError, ValueError, TypeError):
        return None
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    if key.public_key().public_bytes(der, public) != cert.public_key().public_bytes(der, public):
        return None  # a half-finished rotation: key and certificate do not belong together
    if cert.not_valid_after_utc - renew_before < now or ca.not_valid_after_utc - renew_before < now:
        return None
    if cert.issuer != ca.subject:
        return None
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None
    have = set(san.get_values_for_type(x509.DNSName))
    if not set(names) <= have or _LOOPBACK not in san.get_values_for_type(x509.IPAddress):
        return None
    return cert


def ensure_certificates(
    directory: Path | str,
    *,
    service: str,
    namespace: str,
    now: dt.datetime,
    validity: dt.timedelta = dt.timedelta(days=365),
    renew_before: dt.timedelta = dt.timedelta(days=30),
) -> CertificateBundle:
    """Reuse the certificates in ``directory`` when still good, else generate and write new ones."""
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    names = dns_names(service, namespace)
    cert = _reusable(path, names, now, renew_before)
    reused = cert is not None
    if cert is None:
        cert = _generate(path, names, now, validity)
    ca_pem = (path / _CA_FILE).read_bytes()
    return CertificateBundle(
        ca_file=path / _CA_FILE,
        cert_file=path / _CERT_FILE,
        key_file=path / _KEY_FILE,
        ca_bundle=base64.b64encode(ca_pem).decode(),
        not_after=cert.not_valid_after_utc,
        reused=reused,
    )


def _generate(
    path: Path, names: list[str], now: dt.datetime, validity: dt.timedelta
) -> x509.Certificate:
    start = now - dt.timedelta(minutes=5)  # tolerate clock skew between operator and API server
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "keptn-lifecycle-operator-ca")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(now + validity)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    san = [x509.DNSName(n) for n in names] + [x509.IPAddress(_LOOPBACK)]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[2])]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(now + validity)
        .add_extension(x509.SubjectAlternativeName(san), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    private = serialization.PrivateFormat.PKCS8
    plain = serialization.NoEncryption()
    _write(path / _CA_KEY_FILE, ca_key.private_bytes(pem, private, plain), 0o600)
    _write(path / _KEY_FILE, key.private_bytes(pem, private, plain), 0o600)
    _write(path / _CERT_FILE, cert.public_bytes(pem))
    _write(path / _CA_FILE, ca.public_bytes(pem))
    return cert
