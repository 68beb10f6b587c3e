"""identity.organization.created -> one wallet, however often the event is delivered."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest
from keel.identity.v1 import events_pb2 as identity_events
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from keel_runtime.events import Consumer, StreamSpec, connect_nats, ensure_stream, new_event
from keel_runtime.tenancy import set_tenant
from ledger.app.accounts import AccountHandlers
from ledger.events.subscribers import open_wallet_subscription

pytestmark = pytest.mark.integration


@dataclass
class FakeMsg:
    """Just what Consumer.handle touches on a successful delivery."""

    data: bytes
    acks: list[str] = field(default_factory=list)
    headers: dict[str, str] | None = None
    # A first delivery: the consumer looks no further into its failed-attempt records.
    metadata: Any = field(default_factory=lambda: SimpleNamespace(num_delivered=1))

    async def ack(self) -> None:
        self.acks.append("ack")


def organization_created(org_id: str, currency: str = "EUR") -> Any:
    return new_event(
        type="identity.organization.created",
        source="identity",
        subject=org_id,
        org_id=org_id,
        payload=identity_events.OrganizationCreated(
            organization_id=org_id,
            display_name="Acme",
            owner_user_id=str(uuid.uuid4()),
            default_currency=currency,
        ),
    )


async def wallets(engine: AsyncEngine, org_id: str) -> list[Any]:
    async with engine.connect() as conn:
        await set_tenant(conn, org_id)  # the organization's rows only (row-level security)
        result = await conn.execute(
            text("SELECT kind, asset_code, bound FROM accounts WHERE org_id = :o"), {"o": org_id}
        )
        return list(result.all())


async def outbox_subjects(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as conn:
        return list((await conn.execute(text("SELECT subject FROM outbox"))).scalars())


async def test_same_envelope_twice_opens_one_wallet(
    engine: AsyncEngine, accounts: AccountHandlers
) -> None:
    consumer = Consumer(engine, js=None, subscription=open_wallet_subscription(accounts))  # type: ignore[arg-type]
    org_id = str(uuid.uuid4())
    envelope = organization_created(org_id)
    first, second = FakeMsg(envelope.SerializeToString()), FakeMsg(envelope.SerializeToString())
    await consumer.handle(first)  # type: ignore[arg-type]
    await consumer.handle(second)  # type: ignore[arg-type]
    assert first.acks == second.acks == ["ack"]
    assert await wallets(engine, org_id) == [("WALLET", "EUR", "DEBITS_MUST_NOT_EXCEED_CREDITS")]
    assert await outbox_subjects(engine) == ["ledger.account.opened"]


async def test_a_second_event_for_the_same_org_is_a_no_op(
    engine: AsyncEngine, accounts: AccountHandlers
) -> None:
    # Different event ids get past the inbox: the wallet's uniqueness is what holds.
    consumer = Consumer(engine, js=None, subscription=open_wallet_subscription(accounts))  # type: ignore[arg-type]
    org_id = str(uuid.uuid4())
    for _ in range(2):
        await consumer.handle(FakeMsg(organization_created(org_id).SerializeToString()))  # type: ignore[arg-type]
    assert len(await wallets(engine, org_id)) == 1
    assert await outbox_subjects(engine) == ["ledger.account.opened"]


async def test_through_jetstream(
    engine: AsyncEngine, accounts: AccountHandlers, nats_url: str, unique_name: str
) -> None:
    nc, js = await connect_nats(nats_url)
    stream = f"IDENTITY_{unique_name}".upper()
    subject = f"{unique_name}.identity.organization.created"
    try:
        await ensure_stream(js, StreamSpec(name=stream, subjects=[f"{unique_name}.identity.>"]))
        subscription = open_wallet_subscription(
            accounts, stream=stream, filter_subject=subject, consumer=f"open-wallet-{unique_name}"
        )
        consumer = Consumer(engine, js, subscription, fetch_timeout=0.2)
        await consumer.ensure()
        task = asyncio.create_task(consumer.run())
        org_id = str(uuid.uuid4())
        data = organization_created(org_id, "JPY").SerializeToString()
        await js.publish(subject, data)
        await js.publish(subject, data)  # a redelivery, as a relay retry would make it
        async with asyncio.timeout(10):
            while True:
                info = await js.consumer_info(stream, subscription.consumer)
                if info.num_ack_pending == 0 and info.delivered.stream_seq == 2:
                    break
                await asyncio.sleep(0.05)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        assert await wallets(engine, org_id) == [
            ("WALLET", "JPY", "DEBITS_MUST_NOT_EXCEED_CREDITS")
        ]
    finally:
        await js.delete_stream(stream)
        await nc.close()


async def _lock_waits(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        query = text(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE wait_event_type = 'Lock' AND datname = current_database()"
        )
        return int(await conn.scalar(query) or 0)


@pytest.mark.parametrize("first_commits", [True, False], ids=["first-commits", "first-rolls-back"])
async def test_an_open_racing_an_uncommitted_one_waits_for_it_and_leaves_one_wallet(
    engine: AsyncEngine, accounts: AccountHandlers, first_commits: bool
) -> None:
    # Two consumer transactions open one organization's wallet (two sign-up events under
    # different ids): the second insert reaches the unique index while the first is not
    # committed. It waits for it; then reads the winner (a new statement, a new snapshot)
    # or, when the first rolled back, inserts its own. One wallet, one account.opened.
    handle = open_wallet_subscription(accounts).handler
    org_id = str(uuid.uuid4())
    async with engine.connect() as first:
        await first.begin()
        await set_tenant(first, org_id)
        await handle(first, organization_created(org_id, "JPY"))

        async def second_open() -> None:
            async with engine.begin() as second:
                await set_tenant(second, org_id)
                await handle(second, organization_created(org_id, "JPY"))

        racing = asyncio.create_task(second_open())
        async with asyncio.timeout(10):
            while await _lock_waits(engine) == 0:
                assert not racing.done(), racing.result()
                await asyncio.sleep(0.02)
        if first_commits:
            await first.commit()
        else:
            await first.rollback()
    await asyncio.wait_for(racing, timeout=10)
    assert await wallets(engine, org_id) == [("WALLET", "JPY", "DEBITS_MUST_NOT_EXCEED_CREDITS")]
    assert await outbox_subjects(engine) == ["ledger.account.opened"]
