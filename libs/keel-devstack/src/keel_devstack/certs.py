"""A local certificate authority and one short-lived certificate per workload.

Every internal hop is mutual TLS: a server accepts only clients whose certificate this CA
signed, and reads who is calling from the certificate's SAN URI ``spiffe://keel/<workload>``
(never from a header). `make run` and the test fixtures issue a fresh set on every start,
so nothing long-lived sits on disk; the CA's private key is never written at all.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from keel_runtime.tls import TlsSettings

SPIFFE_TRUST_DOMAIN = "keel"
SERVICE_WORKLOADS = ("identity", "ledger", "items", "billing")
WORKLOADS = (*SERVICE_WORKLOADS, "gateway", "operator", "nats", "postgres")
"""Services (servers and clients), Envoy (a client of every service), the operator's tools,
and the NATS and PostgreSQL servers of a stack that runs them over TLS."""
VALIDITY = datetime.timedelta(hours=24)
"""Short on purpose: certificates are issued anew on every start."""


def spiffe_id(workload: str) -> str:
    return f"spiffe://{SPIFFE_TRUST_DOMAIN}/{workload}"


@dataclass(frozen=True)
class WorkloadFiles:
    """The PEM files one workload is configured with."""

    cert_file: Path
    key_file: Path
    ca_file: Path

    @property
    def tls(self) -> TlsSettings:
        """As the runtime's server and clients take them."""
        return TlsSettings(self.cert_file, self.key_file, self.ca_file)

    def env(self) -> dict[str, str]:
        """TLS_CERT_FILE, TLS_KEY_FILE, TLS_CA_FILE as the runtime reads them."""
        return {
            "TLS_CERT_FILE": str(self.cert_file),
            "TLS_KEY_FILE": str(self.key_file),
            "TLS_CA_FILE": str(self.ca_file),
        }


@dataclass(frozen=True)
class MeshCertificates:
    """A CA certificate and the files of every workload it signed, under one directory."""

    directory: Path
    ca_file: Path
    workloads: dict[str, WorkloadFiles]

    def __getitem__(self, workload: str) -> WorkloadFiles:
        return self.workloads[workload]


def issue(
    directory: Path,
    workloads: Iterable[str] = WORKLOADS,
    *,
    validity: datetime.timedelta = VALIDITY,
    ca_name: str = "Keel local CA",
) -> MeshCertificates:
    """A fresh CA and one certificate per workload in ``directory`` (mode 0700, keys 0600).

    Files of an earlier run are overwritten: rotation is simply issuing again on start.
    """
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    now = datetime.datetime.now(datetime.UTC)
    # A minute back: clocks of the processes that verify are never exactly ours.
    not_before, not_after = now - datetime.timedelta(minutes=1), now + validity
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ca_name)])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_subject)
        .issuer_name(ca_subject)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, key_cert_sign=True, crl_sign=True,
                content_commitment=False, key_encipherment=False, data_encipherment=False,
                key_agreement=False, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    ca_file = directory / "ca.pem"
    _write(ca_file, ca_cert.public_bytes(serialization.Encoding.PEM), 0o644)
    files: dict[str, WorkloadFiles] = {}
    for workload in workloads:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, workload)]))
            .issuer_name(ca_subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage(
                    [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
                ),
                critical=False,
            )
            # The identity (URI) and the names clients dial locally (localhost, 127.0.0.1).
            .add_extension(
                x509.SubjectAlternativeName(
                    [
                        x509.UniformResourceIdentifier(spiffe_id(workload)),
                        x509.DNSName("localhost"),
                        x509.IPAddress(ipaddress.IPv4Address("127.0.0.1")),
                    ]
                ),
                critical=False,
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
            )
            .sign(ca_key, hashes.SHA256())
        )
        cert_file, key_file = directory / f"{workload}.pem", directory / f"{workload}-key.pem"
        _write(cert_file, cert.public_bytes(serialization.Encoding.PEM), 0o644)
        _write(
            key_file,
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
            0o600,
        )
        files[workload] = WorkloadFiles(cert_file, key_file, ca_file)
    return MeshCertificates(directory, ca_file, files)


def _write(path: Path, data: bytes, mode: int) -> None:
    """Create with ``mode`` from the start: a key is never readable by others, even briefly."""
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
