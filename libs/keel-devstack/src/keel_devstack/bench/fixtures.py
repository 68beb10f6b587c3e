"""What the mesh benchmarks need before measuring: a tenant, its wallet, ledger accounts."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import psycopg
from keel.billing.v1 import usage_service_pb2, usage_service_pb2_grpc
from keel.identity.v1 import (
    auth_service_pb2,
    auth_service_pb2_grpc,
    organization_service_pb2,
    organization_service_pb2_grpc,
)
from keel.ledger.v1 import account_service_pb2, account_service_pb2_grpc, resources_pb2
from keel.type.v1 import asset_pb2

from keel_devstack.certs import MeshCertificates
from keel_devstack.routed_channel import RoutedChannel, as_workload

PASSWORD = "bench correct horse battery"
PLATFORM_ORG_ID = "00000000-0000-0000-0000-000000000000"
CREATE_CONCURRENCY = 16
WAIT_SECONDS = 30.0
SERVICE = "billing"
"""The Keel service the bench acts as on the platform's books, as billing posts to them."""


@dataclass(frozen=True)
class Tenant:
    org_id: str
    email: str
    access_token: str

    @property
    def metadata(self) -> list[tuple[str, str]]:
        """What the gateway forwards: the user's access token, which the service verifies."""
        return [("authorization", f"Bearer {self.access_token}")]


def service_metadata() -> list[tuple[str, str]]:
    """The service principal SERVICE: its own certificate, no token."""
    return list(as_workload(SERVICE))


@asynccontextmanager
async def mesh_channel(target: str, certs: MeshCertificates) -> AsyncIterator[RoutedChannel]:
    """Mutual TLS as the mesh requires: each call goes with the certificate its principal
    needs (the gateway's for end users and public methods, a service's for itself)."""
    channel = RoutedChannel(target, certs)
    try:
        yield channel
    finally:
        await channel.close()


def sign_up_request(email: str) -> organization_service_pb2.CreateOrganizationRequest:
    return organization_service_pb2.CreateOrganizationRequest(
        request_id=str(uuid.uuid4()),
        display_name="Bench",
        owner_email=email,
        owner_password=PASSWORD,
        owner_display_name="Bench Owner",
    )


async def sign_up(identity: str, certs: MeshCertificates) -> Tenant:
    email = f"bench-{uuid.uuid4().hex[:12]}@bench.keel.test"
    async with mesh_channel(identity, certs) as channel:
        orgs = organization_service_pb2_grpc.OrganizationServiceStub(channel)
        created = await orgs.CreateOrganization(sign_up_request(email), timeout=30)
        auth = auth_service_pb2_grpc.AuthServiceStub(channel)
        login = auth_service_pb2.LoginRequest(email=email, password=PASSWORD)
        grant = (await auth.Login(login, timeout=30)).grant
    return Tenant(created.organization.organization_id, email, grant.access_token)


async def wallet(ledger: str, certs: MeshCertificates, tenant: Tenant) -> str:
    """The tenant's wallet, opened by ledger from the sign-up event."""
    async with mesh_channel(ledger, certs) as channel:
        stub = account_service_pb2_grpc.AccountServiceStub(channel)
        request = account_service_pb2.ListAccountsRequest(kind=resources_pb2.ACCOUNT_KIND_WALLET)
        for _ in range(int(WAIT_SECONDS * 10)):
            found = await stub.ListAccounts(request, metadata=tenant.metadata, timeout=10)
            if found.accounts:
                return str(found.accounts[0].account_id)
            await asyncio.sleep(0.1)
    raise TimeoutError(f"ledger opened no wallet for {tenant.org_id} in {WAIT_SECONDS:g}s")


async def ledger_accounts(ledger: str, certs: MeshCertificates, count: int) -> list[str]:
    """Unbounded platform FUNDING accounts in USD, as a Keel service opens them."""
    async with mesh_channel(ledger, certs) as channel:
        stub = account_service_pb2_grpc.AccountServiceStub(channel)
        md = service_metadata()
        gate = asyncio.Semaphore(CREATE_CONCURRENCY)

        async def create() -> str:
            request = account_service_pb2.CreateAccountRequest(
                request_id=f"bench-{uuid.uuid4()}",
                organization_id=PLATFORM_ORG_ID,
                kind=resources_pb2.ACCOUNT_KIND_FUNDING,
                asset=asset_pb2.Asset(code="USD", scale=2),
                balance_bound=resources_pb2.BALANCE_BOUND_NONE,
            )
            async with gate:
                reply = await stub.CreateAccount(request, metadata=md, timeout=30)
            return str(reply.account.account_id)

        return list(await asyncio.gather(*(create() for _ in range(count))))


RAW_SCHEMA = (
    "CREATE TABLE raw_balances (account_id uuid PRIMARY KEY, posted bigint NOT NULL)",
    "CREATE TABLE raw_operations (id uuid PRIMARY KEY, request_id text NOT NULL UNIQUE,"
    " created_at timestamptz NOT NULL DEFAULT now())",
    "CREATE TABLE raw_entries (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    " operation_id uuid NOT NULL REFERENCES raw_operations,"
    " account_id uuid NOT NULL REFERENCES raw_balances, amount bigint NOT NULL)",
    "CREATE INDEX ON raw_entries (account_id)",
)


def raw_ledger(url: str, account_ids: list[str]) -> None:
    """The raw posting's tables (balances, operations, entries) with the same accounts."""
    with psycopg.connect(url) as conn:
        for statement in RAW_SCHEMA:
            conn.execute(statement)
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO raw_balances VALUES (%s, 0)", [(a,) for a in account_ids])


async def usage_period(
    billing: str, certs: MeshCertificates, tenant: Tenant, events: int, metric: str
) -> None:
    """`events` usage events of `metric` recorded in the tenant's open period (batches of
    100, two at a time): what a period holds after a while of ingestion."""
    async with mesh_channel(billing, certs) as channel:
        stub = usage_service_pb2_grpc.UsageServiceStub(channel)
        gate = asyncio.Semaphore(2)

        async def batch(size: int) -> None:
            usages = [
                usage_service_pb2.UsageInput(metric=metric, quantity=1, dedup_key=uuid.uuid4().hex)
                for _ in range(size)
            ]
            async with gate:
                await stub.RecordUsageBatch(
                    usage_service_pb2.RecordUsageBatchRequest(usages=usages),
                    metadata=tenant.metadata,
                    timeout=60,
                )

        await asyncio.gather(*(batch(min(100, events - n)) for n in range(0, events, 100)))
