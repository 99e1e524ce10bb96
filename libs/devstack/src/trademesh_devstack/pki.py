"""A small local certificate authority for process mode (the cluster uses cert-manager).

One root CA per directory and one short-lived leaf per service, each carrying the
service's SPIFFE-style identity as a URI SAN plus loopback DNS/IP SANs, usable as
both server and client certificate. Re-issuing replaces the files at the same paths
(all at once, like a mounted Kubernetes Secret) and running services pick the new
pair up: that is how rotation works locally. Everything lives under the
devstack's state directory, which git ignores.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID

from .certificates import certificate_pem, distinguished_name, leaf, new_key, private_pem, root_ca

TRUST_DOMAIN = "trademesh.local"
DEFAULT_NAMESPACE = "trademesh"
CA_LIFETIME = dt.timedelta(days=30)
LEAF_LIFETIME = dt.timedelta(hours=24)
# Clock skew between processes on one machine is nil; a minute covers VMs that resume.
BACKDATE = dt.timedelta(minutes=1)
LOOPBACK_DNS = ("localhost",)
LOOPBACK_IPS = ("127.0.0.1", "::1")
# Java keystores need a password; this one protects nothing (the files are 0600 anyway).
KEYSTORE_PASSWORD = "trademesh-devstack"


def spiffe_id(service: str, namespace: str = DEFAULT_NAMESPACE) -> str:
    return f"spiffe://{TRUST_DOMAIN}/ns/{namespace}/sa/{service}"


@dataclass(frozen=True)
class LeafFiles:
    """Where one service's credentials live (the names cert-manager gives a Secret's keys)."""

    directory: Path

    @property
    def cert(self) -> Path:
        return self.directory / "tls.crt"

    @property
    def key(self) -> Path:
        return self.directory / "tls.key"

    @property
    def ca(self) -> Path:
        return self.directory / "ca.crt"

    @property
    def pkcs12(self) -> Path:
        return self.directory / "keystore.p12"

    def tls_env(self) -> dict[str, str]:
        """The TRADEMESH_TLS_* variables a service reads (see trademesh_common.config)."""
        return {
            "TRADEMESH_TLS_CERT_FILE": str(self.cert),
            "TRADEMESH_TLS_KEY_FILE": str(self.key),
            "TRADEMESH_TLS_CA_FILE": str(self.ca),
        }


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    tmp.replace(path)


@dataclass(frozen=True)
class ServerTls:
    """What a devstack server needs in TLS mode: its own pair and the admin client's."""

    server: LeafFiles
    admin: LeafFiles


def _publish(directory: Path, files: dict[str, bytes]) -> None:
    """Replaces all `files` at once, the way kubelet updates a mounted Secret.

    Each generation is a hidden folder; `..data` points at the current one and every
    name is a link through `..data`, so one rename swaps key and certificate together
    and a reader never pairs a new certificate with an old key.
    """
    directory.mkdir(parents=True, exist_ok=True)
    generation = directory / f"..{time.time_ns()}"
    generation.mkdir(mode=0o700)
    for name, data in files.items():
        _write_private(generation / name, data)
    link = directory / "..data_tmp"
    link.unlink(missing_ok=True)
    link.symlink_to(generation.name)
    previous = (directory / "..data").resolve() if (directory / "..data").is_symlink() else None
    link.replace(directory / "..data")
    for name in files:
        if not (directory / name).is_symlink():
            (directory / name).unlink(missing_ok=True)
            (directory / name).symlink_to(Path("..data") / name)
    if previous is not None and previous != generation.resolve():
        shutil.rmtree(previous, ignore_errors=True)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class LocalCA:
    """A root CA kept in `directory` (ca.crt, ca.key); created on first use."""

    def __init__(self, directory: Path, name: str = "trademesh local CA") -> None:
        self.directory = Path(directory)
        self.name = name
        self.cert_path = self.directory / "ca.crt"
        self.key_path = self.directory / "ca.key"
        self._cert: x509.Certificate | None = None
        self._key: ec.EllipticCurvePrivateKey | None = None

    def ensure(self) -> LocalCA:
        """Loads the CA, or creates it when missing or about to expire."""
        if self.cert_path.is_file() and self.key_path.is_file():
            cert = x509.load_pem_x509_certificate(self.cert_path.read_bytes())
            key = serialization.load_pem_private_key(self.key_path.read_bytes(), None)
            if cert.not_valid_after_utc - _now() > LEAF_LIFETIME and isinstance(
                key, ec.EllipticCurvePrivateKey
            ):
                self._cert, self._key = cert, key
                return self
        self._create()
        return self

    def _create(self) -> None:
        key = new_key()
        now = _now()
        cert = root_ca(key, distinguished_name(self.name), now - BACKDATE, now + CA_LIFETIME)
        _write_private(self.key_path, private_pem(key))
        _write_private(self.cert_path, certificate_pem(cert))
        self._cert, self._key = cert, key

    @property
    def certificate(self) -> x509.Certificate:
        if self._cert is None:
            self.ensure()
        assert self._cert is not None
        return self._cert

    @property
    def _signing_key(self) -> ec.EllipticCurvePrivateKey:
        if self._key is None:
            self.ensure()
        assert self._key is not None
        return self._key

    def issue(
        self,
        service: str,
        namespace: str = DEFAULT_NAMESPACE,
        *,
        directory: Path | None = None,
        lifetime: dt.timedelta = LEAF_LIFETIME,
        not_before: dt.datetime | None = None,
        dns_names: tuple[str, ...] = LOOPBACK_DNS,
        ip_addresses: tuple[str, ...] = LOOPBACK_IPS,
        common_name: str | None = None,
    ) -> LeafFiles:
        """A fresh key and certificate for `service`, written to `directory` (re)placing any.

        `not_before` (default: now) lets tests make a certificate that already expired.
        """
        files = LeafFiles(Path(directory) if directory else self.directory / service)
        key = new_key()
        start = (not_before or _now()) - BACKDATE
        sans: list[x509.GeneralName] = [
            x509.UniformResourceIdentifier(spiffe_id(service, namespace)),
            *(x509.DNSName(dns) for dns in dns_names),
            *(x509.IPAddress(ipaddress.ip_address(ip)) for ip in ip_addresses),
        ]
        ca_cert = self.certificate
        cert = leaf(
            self._signing_key,
            ca_cert,
            key,
            distinguished_name(common_name or service),
            start,
            start + BACKDATE + lifetime,
            [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH],
            sans,
        )
        _publish(
            files.directory,
            {
                "tls.key": private_pem(key),
                "tls.crt": certificate_pem(cert),
                "ca.crt": certificate_pem(ca_cert),
                "keystore.p12": pkcs12.serialize_key_and_certificates(
                    service.encode(),
                    key,
                    cert,
                    [ca_cert],
                    serialization.BestAvailableEncryption(KEYSTORE_PASSWORD.encode()),
                ),
            },
        )
        return files


def describe(path: Path) -> dict[str, str]:
    """Subject, identity and validity of a certificate file (for the CLI and for humans)."""
    cert = x509.load_pem_x509_certificate(Path(path).read_bytes())
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        uris = sans.get_values_for_type(x509.UniformResourceIdentifier)
    except x509.ExtensionNotFound:
        uris = []
    return {
        "subject": cert.subject.rfc4514_string(),
        "issuer": cert.issuer.rfc4514_string(),
        "spiffe_id": next((u for u in uris if u.startswith("spiffe://")), ""),
        "not_before": cert.not_valid_before_utc.isoformat(),
        "not_after": cert.not_valid_after_utc.isoformat(),
        "serial": format(cert.serial_number, "x"),
    }
