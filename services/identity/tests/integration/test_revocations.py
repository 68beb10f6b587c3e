"""Revocations reach every service process: identity's handlers -> outbox -> relay -> IDENTITY
stream -> identity's revocation consumer -> REVOCATIONS bucket -> each service's deny set.

On a NATS server of its own with the real users and permissions (the session's server runs
a mesh whose identity consumes the same stream with the same consumer name): identity writes,
ledger and billing only watch.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import jwt
import pytest
from nats.js import JetStreamContext
from sqlalchemy.ext.asyncio import AsyncEngine

from identity.app.commands import (
    CreateApiKey,
    CreateOrganization,
    CreateUser,
    DeactivateUser,
    ExchangeApiKey,
    Login,
    Logout,
    RevokeApiKey,
)
from identity.app.handlers import Handlers
from identity.domain.roles import Role
from identity.events.codec import SOURCE
from identity.events.revocations import CONSUMER, declare_revocations
from keel_devstack.nats import Nats, start_nats
from keel_runtime.caller import Caller
from keel_runtime.events import (
    Consumer,
    OutboxRelay,
    StreamSettings,
    connect_nats_once,
    ensure_stream,
)
from keel_runtime.events.revocation_feed import RevocationFeed
from keel_runtime.revocation import Revocations

pytestmark = pytest.mark.integration

PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Nats]:
    started = start_nats(Path(tmp_path_factory.mktemp("nats")))
    yield started
    started.stop()


@contextlib.asynccontextmanager
async def running(*jobs: Callable[[], object]) -> AsyncIterator[None]:
    tasks = [asyncio.create_task(job()) for job in jobs]  # type: ignore[arg-type]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


@contextlib.asynccontextmanager
async def service_feed(server: Nats, service: str) -> AsyncIterator[RevocationFeed]:
    """A service process's deny set, watched with that service's own NATS user."""
    nc, js = await connect_nats_once(server.url_for(service), name=service)
    feed = RevocationFeed(js)
    try:
        async with running(feed.run):
            await feed.wait_synced(10)
            yield feed
    finally:
        await nc.close()


@contextlib.asynccontextmanager
async def identity_events(server: Nats, engine: AsyncEngine) -> AsyncIterator[JetStreamContext]:
    """Identity's relay and revocation consumer, as identity runs them."""
    nc, js = await connect_nats_once(server.url_for("identity"), name="identity")
    # What identity's runtime assembly does: its own stream, then the bucket and the consumer.
    await ensure_stream(js, StreamSettings().service_stream(SOURCE))
    subscription = await declare_revocations(
        js, access_ttl=timedelta(minutes=15), streams=StreamSettings()
    )
    writer = Consumer(engine, js, subscription)
    writer.fetch_timeout = 0.2
    relay = OutboxRelay(engine, js, poll_interval=0.05)
    try:
        async with running(relay.run, writer.run):
            yield js
    finally:
        await nc.close()


@dataclass(frozen=True)
class Token:
    subject: str
    kind: str
    sid: str
    iat: int

    @classmethod
    def of(cls, access_token: str) -> Token:
        claims = jwt.decode(access_token, options={"verify_signature": False})
        return cls(claims["sub"], claims["kind"], claims.get("sid", ""), int(claims["iat"]))

    def refused_by(self, deny: Revocations) -> bool:
        return deny.refuses(
            subject=self.subject, kind=self.kind, session_id=self.sid, issued_at=self.iat
        )


async def test_logout_deactivation_and_key_revocation_reach_every_service(
    server: Nats, engine: AsyncEngine, handlers: Handlers
) -> None:
    created = await handlers.organizations.create(
        CreateOrganization("Engines", "ada@example.com", PASSWORD, request_id=str(uuid.uuid4()))
    )
    owner = Caller(
        created.owner.id, created.organization.id, frozenset({Role.OWNER}), frozenset(), "user"
    )
    await handlers.users.create(CreateUser(owner, "bob@example.com", PASSWORD))
    session = await handlers.auth.login(Login("ada@example.com", PASSWORD))
    other_session = await handlers.auth.login(Login("ada@example.com", PASSWORD))
    bob = await handlers.auth.login(Login("bob@example.com", PASSWORD))
    key = await handlers.api_keys.create(CreateApiKey(owner, "ci"))
    exchanged = await handlers.api_keys.exchange(ExchangeApiKey(key.secret))
    tokens = {
        "session": Token.of(session.access_token),
        "bob": Token.of(bob.access_token),
        "key": Token.of(exchanged.access_token),
    }
    untouched = Token.of(other_session.access_token)

    async with (
        identity_events(server, engine) as js,
        service_feed(server, "ledger") as ledger,
    ):
        assert not any(t.refused_by(ledger.deny_set) for t in tokens.values())
        await handlers.auth.logout(Logout(owner, session.refresh_token))
        await handlers.users.deactivate(DeactivateUser(owner, bob.user_id))
        await handlers.api_keys.revoke(RevokeApiKey(owner, key.api_key.id))
        await ledger.wait_until(
            lambda deny: all(t.refused_by(deny) for t in tokens.values()), within_s=15
        )
        assert not untouched.refused_by(ledger.deny_set)
        # The sign-up, the user and the key created before were never delivered to it.
        info = await js.consumer_info(SOURCE.upper(), CONSUMER)
        assert info.delivered.consumer_seq == 3

    # A process started afterwards (identity's consumer stopped meanwhile) refuses them too,
    # from the bucket, once its first load is done.
    async with service_feed(server, "billing") as billing:
        assert all(t.refused_by(billing.deny_set) for t in tokens.values())
        assert not untouched.refused_by(billing.deny_set)
