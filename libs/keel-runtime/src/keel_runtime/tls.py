"""Mutual TLS between workloads: credentials from files, the caller's identity from its cert.

A server given TLS settings accepts only clients whose certificate the mesh CA signed, and
knows who is calling from the certificate's SAN URI ``spiffe://keel/<workload>``. Without
TLS settings (unit and component tests that need no identity) it listens in plaintext and
no caller has a workload identity, so nothing reserved to workloads can be reached.
"""

from __future__ import annotations

import logging
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from cryptography import x509

logger = logging.getLogger("keel.tls")

SPIFFE_PREFIX = "spiffe://keel/"
GATEWAY_WORKLOAD = "gateway"
OPERATOR_WORKLOAD = "operator"
SERVICE_WORKLOADS = frozenset({"identity", "ledger", "items", "billing"})
"""Keel services: they may act on behalf of a user, and are service principals themselves."""

PEER_CACHE_SIZE = 256
"""Parsed certificates kept by their PEM; a peer presents the same one on every call."""

_workloads: dict[bytes, str | None] = {}


@dataclass(frozen=True, slots=True)
class TlsSettings:
    """PEM files of this workload's certificate and key, and of the CA that signs the mesh."""

    cert_file: Path
    key_file: Path
    ca_file: Path

    def read(self) -> tuple[bytes, bytes, bytes]:
        """(certificate chain, private key, CA) as bytes; read on every start (rotation)."""
        return self.cert_file.read_bytes(), self.key_file.read_bytes(), self.ca_file.read_bytes()


def server_credentials(tls: TlsSettings) -> grpc.ServerCredentials:
    """Require a client certificate signed by the mesh CA on every connection."""
    cert, key, ca = tls.read()
    return grpc.ssl_server_credentials(
        [(key, cert)], root_certificates=ca, require_client_auth=True
    )


def channel_credentials(tls: TlsSettings) -> grpc.ChannelCredentials:
    """Present this workload's certificate; trust only servers the mesh CA signed."""
    cert, key, ca = tls.read()
    return grpc.ssl_channel_credentials(
        root_certificates=ca, private_key=key, certificate_chain=cert
    )


def client_ssl_context(tls: TlsSettings) -> ssl.SSLContext:
    """A TLS client context for the mesh's brokers (NATS): present this workload's
    certificate, trust only servers the mesh CA signed, for the host name dialled."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(tls.ca_file))
    context.load_cert_chain(certfile=str(tls.cert_file), keyfile=str(tls.key_file))
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def peer_workload(context: Any) -> str | None:
    """The calling workload's name from its verified certificate, or None.

    The TLS handshake already verified the chain against the mesh CA; this only reads the
    SPIFFE URI SAN. None for a plaintext connection or a certificate without a Keel URI.
    """
    pems = context.auth_context().get("x509_pem_cert")
    if not pems:
        return None
    pem: bytes = pems[0]
    try:
        return _workloads[pem]
    except KeyError:
        pass
    workload = workload_of(pem)
    if len(_workloads) >= PEER_CACHE_SIZE:
        _workloads.clear()  # bounded; refilling costs one parse per peer
    _workloads[pem] = workload
    return workload


def workload_of(pem: bytes) -> str | None:
    """``<name>`` of the single ``spiffe://keel/<name>`` URI SAN of a PEM certificate."""
    try:
        cert = x509.load_pem_x509_certificate(pem)
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (ValueError, x509.ExtensionNotFound):
        return None
    ids = [
        uri[len(SPIFFE_PREFIX) :]
        for uri in sans.get_values_for_type(x509.UniformResourceIdentifier)
        if uri.startswith(SPIFFE_PREFIX)
    ]
    # Two identities in one certificate is not an identity.
    if len(ids) != 1 or not ids[0] or "/" in ids[0]:
        return None
    return ids[0]
