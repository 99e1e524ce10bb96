"""The key material a test kube-apiserver needs, generated fresh for each start.

A CA, the apiserver's serving certificate (loopback and the in-cluster `kubernetes` names), an
admin client certificate in `system:masters` (which bypasses RBAC, like kubeadm's admin.conf),
and the service-account token signing key pair.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from .certificates import (
    PrivateKey,
    certificate_pem,
    distinguished_name,
    leaf,
    new_key,
    private_pem,
    public_pem,
    root_ca,
)

VALIDITY = dt.timedelta(days=30)
CLOCK_SKEW = dt.timedelta(hours=1)
SERVING_DNS_NAMES = (
    "localhost",
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
)


@dataclass(frozen=True)
class KubePki:
    """Paths of the PEM files in `directory`."""

    directory: Path

    @property
    def ca_cert(self) -> Path:
        return self.directory / "ca.crt"

    @property
    def serving_cert(self) -> Path:
        return self.directory / "apiserver.crt"

    @property
    def serving_key(self) -> Path:
        return self.directory / "apiserver.key"

    @property
    def admin_cert(self) -> Path:
        return self.directory / "admin.crt"

    @property
    def admin_key(self) -> Path:
        return self.directory / "admin.key"

    @property
    def service_account_key(self) -> Path:
        return self.directory / "sa.key"

    @property
    def service_account_pub(self) -> Path:
        return self.directory / "sa.pub"


def _write_leaf(
    ca_key: PrivateKey,
    ca_cert: x509.Certificate,
    subject: x509.Name,
    usage: x509.ObjectIdentifier,
    cert_path: Path,
    key_path: Path,
    sans: list[x509.GeneralName] | None = None,
) -> None:
    key = new_key()
    now = dt.datetime.now(dt.UTC)
    cert = leaf(
        ca_key, ca_cert, key, subject, now - CLOCK_SKEW, now + VALIDITY, [usage], sans or ()
    )
    cert_path.write_bytes(certificate_pem(cert))
    key_path.write_bytes(private_pem(key))


def generate_pki(directory: Path, service_ip: str) -> KubePki:
    """Write a new CA, serving cert, admin client cert and SA key pair into `directory` (0700).

    `service_ip` is the first address of the service range: in-cluster clients reach the
    apiserver as the `kubernetes` Service, so the serving cert names it too.
    """
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    pki = KubePki(directory)

    ca_key = new_key()
    now = dt.datetime.now(dt.UTC)
    ca_cert = root_ca(
        ca_key, distinguished_name("trademesh-test-ca"), now - CLOCK_SKEW, now + VALIDITY
    )
    pki.ca_cert.write_bytes(certificate_pem(ca_cert))

    sans: list[x509.GeneralName] = [x509.DNSName(dns) for dns in SERVING_DNS_NAMES]
    sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ("127.0.0.1", service_ip)]
    _write_leaf(
        ca_key,
        ca_cert,
        distinguished_name("kube-apiserver"),
        ExtendedKeyUsageOID.SERVER_AUTH,
        pki.serving_cert,
        pki.serving_key,
        sans,
    )
    _write_leaf(
        ca_key,
        ca_cert,
        distinguished_name("trademesh-admin", "system:masters"),
        ExtendedKeyUsageOID.CLIENT_AUTH,
        pki.admin_cert,
        pki.admin_key,
    )

    sa_key = new_key()
    pki.service_account_key.write_bytes(private_pem(sa_key))
    pki.service_account_pub.write_bytes(public_pem(sa_key))
    for path in directory.iterdir():
        path.chmod(0o600)
    return pki
