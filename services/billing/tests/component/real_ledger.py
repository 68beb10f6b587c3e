"""A real ledger server (its own migrated database) for billing tests that need one."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import psycopg
import pytest
from keel.ledger.v1 import (
    account_service_pb2,
    account_service_pb2_grpc,
    resources_pb2,
    transaction_service_pb2,
    transaction_service_pb2_grpc,
)
from keel.type.v1 import asset_pb2
from psycopg import sql

from keel_devstack.certs import MeshCertificates
from keel_devstack.stack import database_url_for
from keel_runtime.clients import as_service
from keel_runtime.server import start
from keel_runtime.settings import ServerSettings
from keel_runtime.testing import TokenIssuer
from ledger.bootstrap import build
from ledger.config import Config
from ledger.storage.schema import SCHEMA

PLATFORM_ORG_ID = "00000000-0000-0000-0000-000000000000"


@pytest.fixture
async def ledger_target(
    postgres_url: str,
    nats_url: str,
    unique_name: str,
    mesh_certs: MeshCertificates,
    token_issuer: TokenIssuer,
) -> AsyncIterator[str]:
    """A ledger over mutual TLS, as in the mesh: billing reaches it with its certificate;
    it verifies the test's access tokens (``token_issuer``) as it would identity's."""
    name = f"test_{unique_name}_ledger"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = database_url_for(postgres_url, name)
    SCHEMA.migrate(url)
    spec = await build(Config(database_url=url))  # no NATS: the gRPC surface alone
    spec.jwks = token_issuer.jwks
    server = await start(spec, ServerSettings(bind="127.0.0.1:0", tls=mesh_certs["ledger"].tls))
    try:
        yield f"127.0.0.1:{server.port}"
    finally:
        await server.stop(0)
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


async def funded_wallet(channel: Any, org_id: str, amount: int) -> str:
    """Open the organization's USD wallet and move `amount` into it; the wallet id."""
    accounts = account_service_pb2_grpc.AccountServiceStub(channel)
    usd = asset_pb2.Asset(code="USD", scale=2)
    wallet = (
        await accounts.CreateAccount(
            account_service_pb2.CreateAccountRequest(
                request_id=f"wallet-{org_id}",
                organization_id=org_id,
                kind=resources_pb2.ACCOUNT_KIND_WALLET,
                asset=usd,
                balance_bound=resources_pb2.BALANCE_BOUND_DEBITS_MUST_NOT_EXCEED_CREDITS,
            ),
            metadata=as_service(org_id),
        )
    ).account
    funding = (
        await accounts.CreateAccount(
            account_service_pb2.CreateAccountRequest(
                request_id=f"funding-{uuid.uuid4()}",
                organization_id=PLATFORM_ORG_ID,
                kind=resources_pb2.ACCOUNT_KIND_FUNDING,
                asset=usd,
                balance_bound=resources_pb2.BALANCE_BOUND_NONE,
            ),
            metadata=as_service(PLATFORM_ORG_ID),
        )
    ).account
    await transaction_service_pb2_grpc.TransactionServiceStub(channel).CreateTransaction(
        transaction_service_pb2.CreateTransactionRequest(
            request_id=f"fund-{uuid.uuid4()}",
            postings=[
                resources_pb2.Posting(
                    account_id=funding.account_id,
                    side=resources_pb2.POSTING_SIDE_DEBIT,
                    amount=amount,
                    asset_code="USD",
                ),
                resources_pb2.Posting(
                    account_id=wallet.account_id,
                    side=resources_pb2.POSTING_SIDE_CREDIT,
                    amount=amount,
                    asset_code="USD",
                ),
            ],
        ),
        metadata=as_service(PLATFORM_ORG_ID),
    )
    return str(wallet.account_id)
