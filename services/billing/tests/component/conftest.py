"""A real billing server on 127.0.0.1:0 and a fake ledger gRPC server it calls."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import grpc
import pytest
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status
from keel.ledger.v1 import (
    account_service_pb2,
    account_service_pb2_grpc,
    resources_pb2,
    transaction_service_pb2,
    transaction_service_pb2_grpc,
)
from keel.type.v1 import asset_pb2
from sqlalchemy.ext.asyncio import AsyncEngine

from billing.adapters.ledger_client import GrpcLedger
from billing.bootstrap import SERVICE, build_handlers, servicers
from billing.transport.errors import ERROR_MAP
from keel_devstack.certs import MeshCertificates
from keel_devstack.routed_channel import RoutedChannel
from keel_runtime import clients
from keel_runtime.context import ACTING_ORG_HEADER, AUTHORIZATION_HEADER
from keel_runtime.db import create_engine
from keel_runtime.server import RunningServer, ServiceSpec, start
from keel_runtime.settings import ServerSettings
from keel_runtime.testing import TokenIssuer
from keel_runtime.tokens import JwksSource

LEDGER_TIMEOUT_S = 1.5

Metadata = tuple[tuple[str, str], ...]
AsUser = Callable[..., Metadata]
"""``as_user(org_id, roles=..., request_id=...)``: call metadata of a user of ``org_id``."""


@dataclass
class Seen:
    """One call the fake ledger received."""

    method: str
    metadata: dict[str, str]
    time_remaining: float | None
    request: Any


@dataclass
class LedgerState:
    calls: list[Seen] = field(default_factory=list)
    wallets: dict[str, tuple[str, int]] = field(default_factory=dict)  # org -> (account, balance)
    transactions: dict[str, str] = field(default_factory=dict)  # request id -> transaction id
    # method -> (status code, ErrorInfo reason or "" for a bare status): the next answers.
    failures: dict[str, tuple[grpc.StatusCode, str]] = field(default_factory=dict)

    def seen(self, method: str, request: Any, context: Any) -> None:
        metadata = {k: v for k, v in context.invocation_metadata() if isinstance(v, str)}
        self.calls.append(Seen(method, metadata, context.time_remaining(), request))

    async def answer(self, method: str, request: Any, context: Any) -> None:
        """Record the call; abort it as configured in `failures`."""
        self.seen(method, request, context)
        if method not in self.failures:
            return
        code, reason = self.failures[method]
        if not reason:
            await context.abort(code, "refused")
        detail = any_pb2.Any()
        detail.Pack(error_details_pb2.ErrorInfo(reason=reason, domain="ledger.keel"))
        status = status_pb2.Status(code=code.value[0], message="refused", details=[detail])
        await context.abort_with_status(rpc_status.to_status(status))


def _org(metadata: dict[str, str]) -> str:
    """The organization billing called for: the user's whose token it forwarded, or the one
    it names calling as itself. The fake trusts it; the real ledger verifies the token."""
    authorization = metadata.get(AUTHORIZATION_HEADER)
    if authorization is None:
        return metadata[ACTING_ORG_HEADER]
    payload = authorization.removeprefix("Bearer ").split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return str(claims["org"])


class FakeAccounts(account_service_pb2_grpc.AccountServiceServicer):  # type: ignore[misc]
    def __init__(self, state: LedgerState) -> None:
        self.state = state

    async def ListAccounts(self, request: Any, context: Any) -> Any:
        await self.state.answer("ListAccounts", request, context)
        wallet = self.state.wallets.get(_org(self.state.calls[-1].metadata))
        accounts = []
        if wallet:
            accounts.append(
                resources_pb2.Account(
                    account_id=wallet[0],
                    kind=resources_pb2.ACCOUNT_KIND_WALLET,
                    asset=asset_pb2.Asset(code="USD", scale=2),
                )
            )
        return account_service_pb2.ListAccountsResponse(accounts=accounts)

    async def GetBalance(self, request: Any, context: Any) -> Any:
        await self.state.answer("GetBalance", request, context)
        for account_id, balance in self.state.wallets.values():
            if account_id == request.account_id:
                return account_service_pb2.GetBalanceResponse(
                    balance=resources_pb2.Balance(
                        account_id=account_id,
                        asset=asset_pb2.Asset(code="USD", scale=2),
                        available=balance,
                    )
                )
        await context.abort(grpc.StatusCode.NOT_FOUND, "account not found")

    async def CreateAccount(self, request: Any, context: Any) -> Any:
        self.state.seen("CreateAccount", request, context)
        return account_service_pb2.CreateAccountResponse(
            account=resources_pb2.Account(
                account_id=str(uuid.uuid5(uuid.NAMESPACE_URL, request.request_id))
            )
        )


class FakeTransactions(transaction_service_pb2_grpc.TransactionServiceServicer):  # type: ignore[misc]
    def __init__(self, state: LedgerState) -> None:
        self.state = state

    async def CreateTransaction(self, request: Any, context: Any) -> Any:
        await self.state.answer("CreateTransaction", request, context)
        transaction_id = self.state.transactions.setdefault(request.request_id, str(uuid.uuid4()))
        return transaction_service_pb2.CreateTransactionResponse(
            transaction=resources_pb2.Transaction(
                transaction_id=transaction_id, request_id=request.request_id
            )
        )


@dataclass
class FakeLedgerServer:
    state: LedgerState
    target: str


@pytest.fixture
async def fake_ledger() -> AsyncIterator[FakeLedgerServer]:
    state = LedgerState()
    server = grpc.aio.server()
    account_service_pb2_grpc.add_AccountServiceServicer_to_server(FakeAccounts(state), server)
    transaction_service_pb2_grpc.add_TransactionServiceServicer_to_server(
        FakeTransactions(state), server
    )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    yield FakeLedgerServer(state, f"127.0.0.1:{port}")
    await server.stop(None)


@pytest.fixture
async def engine(runtime_database_url: str) -> AsyncIterator[AsyncEngine]:
    # A copy of the migrated schema (tests/conftest.py); the service runs as the runtime role.
    engine = create_engine(runtime_database_url, pool_size=4)
    yield engine
    await engine.dispose()


async def _serve(
    engine: AsyncEngine, ledger_target: str, certs: MeshCertificates, jwks: JwksSource
) -> tuple[RunningServer, Any]:
    """Billing over mutual TLS as in the mesh (the fake ledger stays plaintext)."""
    channel = clients.insecure_channel(ledger_target)
    handlers = build_handlers(engine, GrpcLedger(channel, timeout_s=LEDGER_TIMEOUT_S))

    # The servicers alone (no jobs, no events), against the fake ledger.
    spec = ServiceSpec(SERVICE, servicers(handlers), error_map=ERROR_MAP, closers=[channel.close])
    spec.jwks = jwks  # the test's tokens verify as identity's would
    running = await start(spec, ServerSettings(bind="127.0.0.1:0", tls=certs["billing"].tls))
    return running, RoutedChannel(f"127.0.0.1:{running.port}", certs)


@pytest.fixture
async def billing(
    engine: AsyncEngine,
    fake_ledger: FakeLedgerServer,
    mesh_certs: MeshCertificates,
    token_issuer: TokenIssuer,
) -> AsyncIterator[Any]:
    running, channel = await _serve(engine, fake_ledger.target, mesh_certs, token_issuer.jwks)
    yield channel
    await channel.close()
    await running.stop(0)


@pytest.fixture
async def billing_without_ledger(
    engine: AsyncEngine, mesh_certs: MeshCertificates, token_issuer: TokenIssuer
) -> AsyncIterator[Any]:
    """Billing pointed at a port nobody listens on."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"127.0.0.1:{s.getsockname()[1]}"
    running, channel = await _serve(engine, dead, mesh_certs, token_issuer.jwks)
    yield channel
    await channel.close()
    await running.stop(0)


@pytest.fixture
def as_user(token_issuer: TokenIssuer) -> AsUser:
    def metadata(
        org_id: str, *, roles: tuple[str, ...] = ("OWNER",), request_id: str = ""
    ) -> Metadata:
        md = token_issuer.metadata(org_id, subject="user-1", roles=roles)
        return (*md, ("x-request-id", request_id)) if request_id else md

    return metadata
