"""Webhook certificates: a self-signed CA and a serving certificate for the webhook Service.

Role: ``generate_pems`` makes a CA and a serving certificate for the DNS names ``<svc>``,
``<svc>.<ns>``, ``<svc>.<ns>.svc``, ``<svc>.<ns>.svc.cluster.local`` plus ``localhost`` and the
IP ``127.0.0.1`` (the sandbox calls the webhook on loopback) and returns their PEMs; the CA's key
is used to sign and then dropped, it is never returned or written. ``reusable`` tells whether such
PEMs are still good (valid for ``renew_before`` more, key matching, every name covered); the CA PEM
may hold several CAs (the new one first, then those still trusted during a rotation).
``write_serving`` writes ``ca.crt``, ``tls.crt`` and ``tls.key`` into the serving directory;
``lifecycle.operator.certsecret`` keeps one set in a Secret for every replica.

Invariants: keys are ECDSA P-256; the key file has mode 0600 (also when a stale temp file with
another mode was left behind) and files are replaced atomically (write to a temp file, then
rename), so a concurrent reader never sees half a file.

Must not: talk to the API server, or read a clock other than through the ``now`` argument.
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

__all__ = [
    "CertificateBundle",
    "Pems",
    "dns_names",
    "generate_pems",
    "reusable",
    "serving_bundle",
    "write_serving",
]

_CA_FILE: Final = "ca.crt"
_CERT_FILE: Final = "tls.crt"
_KEY_FILE: Final = "tls.key"
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


@dataclass(frozen=True, slots=True)
class Pems:
    """A CA bundle, a serving certificate and its key, PEM-encoded (a Secret's three keys)."""

    ca: bytes
    cert: bytes
    key: bytes


def _write(path: Path, data: bytes, mode: int = 0o644) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as handle:
        os.fchmod(handle.fileno(), mode)  # O_CREAT's mode does not apply to a stale temp file
        handle.write(data)
    os.replace(tmp, path)


def write_serving(directory: Path | str, pems: Pems) -> CertificateBundle:
    """Write ``ca.crt``, ``tls.crt`` and ``tls.key`` (0600) into ``directory``."""
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    _write(path / _KEY_FILE, pems.key, 0o600)
    _write(path / _CERT_FILE, pems.cert)
    _write(path / _CA_FILE, pems.ca)
    return serving_bundle(path, pems.ca, x509.load_pem_x509_certificate(pems.cert), reused=False)


def serving_bundle(
    directory: Path, ca: bytes, cert: x509.Certificate, *, reused: bool
) -> CertificateBundle:
    """The bundle of the serving files in ``directory`` (CA PEM ``ca``, certificate ``cert``)."""
    return CertificateBundle(
        ca_file=directory / _CA_FILE,
        cert_file=directory / _CERT_FILE,
        key_file=directory / _KEY_FILE,
        ca_bundle=base64.b64encode(ca).decode(),
        not_after=cert.not_valid_after_utc,
        reused=reused,
    )


def reusable(
    pems: Pems, names: list[str], now: dt.datetime, renew_before: dt.timedelta
) -> x509.Certificate | None:
    """The serving certificate of ``pems`` if good for ``renew_before`` more, else None."""
    try:
        cert = x509.load_pem_x509_certificate(pems.cert)
        cas = x509.load_pem_x509_certificates(pems.ca)
        key = serialization.load_pem_private_key(pems.key, password=None)
    except (ValueError, TypeError):
        return None
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    if key.public_key().public_bytes(der, public) != cert.public_key().public_bytes(der, public):
        return None  # a half-finished rotation: key and certificate do not belong together
    if cas[0].subject != cert.issuer:
        return None  # the bundle's first CA signs the serving certificate
    if (
        cert.not_valid_after_utc - renew_before < now
        or cas[0].not_valid_after_utc - renew_before < now
    ):
        return None
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None
    have = set(san.get_values_for_type(x509.DNSName))
    if not set(names) <= have or _LOOPBACK not in san.get_values_for_type(x509.IPAddress):
        return None
    return cert


def generate_pems(names: list[str], now: dt.datetime, validity: dt.timedelta) -> Pems:
    """A new CA and a serving certificate for ``names`` (and 127.0.0.1); the CA key is dropped.

    The certificate's subject is the first name (clients check the names, not the subject).
    """
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
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
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
    return Pems(
        ca=ca.public_bytes(pem),
        cert=cert.public_bytes(pem),
        key=key.private_bytes(pem, private, plain),
    )
