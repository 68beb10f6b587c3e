"""A real ledger server on 127.0.0.1:0 over a migrated database, and stubs to call it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

import pytest
from keel.ledger.v1 import (
    account_service_pb2_grpc,
    ledger_admin_service_pb2_grpc,
    transaction_service_pb2_grpc,
)

from keel_devstack.certs import MeshCertificates
from keel_devstack.routed_channel import RoutedChannel, as_workload
from keel_runtime.server import start
from keel_runtime.settings import ServerSettings
from keel_runtime.testing import TokenIssuer
from ledger.bootstrap import build
from ledger.config import Config
from ledger.domain.checkpoint import CheckpointKey


@dataclass
class Client:
    accounts: account_service_pb2_grpc.AccountServiceStub
    transactions: transaction_service_pb2_grpc.TransactionServiceStub
    admin: ledger_admin_service_pb2_grpc.LedgerAdminServiceStub
    org_id: str
    tokens: TokenIssuer

    def as_(
        self,
        org_id: str,
        *,
        roles: Sequence[str] = ("OWNER",),
        kind: str = "user",
        scope: str = "",
        subject: str = "",
    ) -> list[tuple[str, str]]:
        """A member or API key of ``org_id`` (an access token through the gateway), or a
        Keel service acting for it (the service's own certificate, billing by default)."""
        if kind == "service":
            return list(as_workload(subject or "billing", org_id))
        return list(
            self.tokens.metadata(
                org_id,
                roles=roles,
                kind=kind,
                scopes=scope.split(),
                subject=subject or f"{kind}-{org_id[:8]}",
            )
        )

    @property
    def md(self) -> list[tuple[str, str]]:
        return self.as_(self.org_id)

    @property
    def service(self) -> list[tuple[str, str]]:
        """An internal caller acting in the org: billing, whose certificate the call presents."""
        return self.as_(self.org_id, roles=(), kind="service", subject="billing")


@pytest.fixture
def checkpoint_key() -> CheckpointKey:
    """The server's checkpoint key, for tests that take or forge checkpoints."""
    return CheckpointKey.generate()


@pytest.fixture
async def client(
    runtime_database_url: str,
    nats_url: str,
    checkpoint_key: CheckpointKey,
    mesh_certs: MeshCertificates,
    token_issuer: TokenIssuer,
) -> AsyncIterator[Client]:
    """Over mutual TLS as in the mesh: users' tokens come through the gateway's certificate,
    service principals are the named service's own certificate. Migrated as the
    owner; the service runs as the runtime role."""
    config = Config(
        database_url=runtime_database_url,
        checkpoint_key=checkpoint_key,
        checkpoint_interval_s=3600,  # tests take the checkpoints they need themselves
    )
    spec = await build(config)  # no NATS: the gRPC surface alone
    spec.jwks = token_issuer.jwks
    server = await start(spec, ServerSettings(bind="127.0.0.1:0", tls=mesh_certs["ledger"].tls))
    channel = RoutedChannel(f"127.0.0.1:{server.port}", mesh_certs)
    try:
        yield Client(
            account_service_pb2_grpc.AccountServiceStub(channel),
            transaction_service_pb2_grpc.TransactionServiceStub(channel),
            ledger_admin_service_pb2_grpc.LedgerAdminServiceStub(channel),
            str(uuid.uuid4()),
            token_issuer,
        )
    finally:
        await channel.close()
        await server.stop(0)
