"""Test helpers for services built on the runtime: a consumer whose deliveries tests await,
the schema checks every service's migration tests share, access tokens signed as identity
signs them, and callers bound as the server binds them."""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import tempfile
import time
import warnings
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import psycopg
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from psycopg import pq
from sqlalchemy import Connection, MetaData, event, inspect
from sqlalchemy.exc import SAWarning
from sqlalchemy.ext.asyncio import AsyncEngine

from keel_runtime import context
from keel_runtime.caller import Caller
from keel_runtime.db import create_engine
from keel_runtime.events.consumer import Consumer, Subscription
from keel_runtime.metrics import NO_METRICS, Metrics
from keel_runtime.migrations import run_migrations_async
from keel_runtime.settings import TokenSettings


class ProbeConsumer(Consumer):
    """A Consumer reporting each finished delivery, so tests await it instead of sleeping."""

    def __init__(
        self,
        engine: AsyncEngine,
        js: JetStreamContext,
        subscription: Subscription,
        *,
        fetch_timeout: float = 1.0,
        metrics: Metrics = NO_METRICS,
    ) -> None:
        super().__init__(engine, js, subscription, fetch_timeout=fetch_timeout, metrics=metrics)
        self.handled: asyncio.Queue[Msg] = asyncio.Queue()

    async def handle(self, msg: Msg) -> None:
        await super().handle(msg)
        self.handled.put_nowait(msg)

    async def deliveries(self, count: int, *, within_s: float = 20.0) -> list[Msg]:
        """The next ``count`` settled deliveries; TimeoutError after ``within_s`` seconds."""
        async with asyncio.timeout(within_s):
            return [await self.handled.get() for _ in range(count)]


def schema_drift(
    connection: Connection, metadata: MetaData, *, compare_type: bool = True
) -> list[object]:
    """How the database's schema differs from ``metadata`` (alembic's autogenerate diff).

    For ``conn.run_sync``: a service's migrations must build exactly what its tables module
    declares. Reflection does not know the outbox's xid8 type (the runtime's table); its
    warning is silenced here.
    """
    context = MigrationContext.configure(connection, opts={"compare_type": compare_type})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SAWarning)
        return list(compare_metadata(context, metadata))


def table_names(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


async def assert_migrations_round_trip(
    database_url: str, migrations: Path, metadata: MetaData, tables: set[str]
) -> None:
    """Upgrade builds ``metadata`` exactly (``tables`` among them); downgrade unwinds it all."""

    def downgrade_to_base(connection: Connection) -> None:
        config = Config()
        config.set_main_option("script_location", str(migrations))
        config.attributes["connection"] = connection
        config.attributes["target_metadata"] = metadata
        command.downgrade(config, "base")

    await run_migrations_async(database_url, migrations, metadata)
    engine = create_engine(database_url, pool_size=1)
    try:
        async with engine.connect() as conn:
            drift = await conn.run_sync(schema_drift, metadata, compare_type=False)
            assert drift == [], drift
            found = await conn.run_sync(table_names)
            assert tables <= found, tables - found
        async with engine.begin() as conn:
            await conn.run_sync(downgrade_to_base)
        async with engine.connect() as conn:
            left = await conn.run_sync(table_names)
            assert left <= {"alembic_version"}, left
    finally:
        await engine.dispose()


def rpc_coverage(test_file: Path, modules: Iterable[ModuleType]) -> tuple[set[str], set[str]]:
    """The RPCs (``Service.Method``) of the contract ``modules``, and those no other
    ``test_*.py`` beside ``test_file`` calls (a static check of the sources: an RPC only
    fakes ever ran is how a broken one ships unseen)."""
    sources = "".join(
        path.read_text() for path in test_file.parent.glob("test_*.py") if path != test_file
    )
    methods = {
        f"{service.name}.{method.name}"
        for module in modules
        for service in module.DESCRIPTOR.services_by_name.values()
        for method in service.methods
    }
    uncalled = {m for m in methods if f".{m.split('.')[1]}(" not in sources}
    return methods, uncalled


def principal_of(caller: Caller) -> context.Principal:
    """The verified principal ``caller`` is made from (``Caller.from_principal``'s inverse)."""
    return context.Principal(
        subject=caller.subject,
        org_id=caller.org_id,
        roles=caller.roles,
        scopes=caller.scopes,
        kind=caller.kind,
    )


@contextmanager
def calling_as(caller: Caller) -> Iterator[None]:
    """Code inside runs as ``caller``'s RPC would: its principal bound, so ``current_caller``
    returns it and units of work act for its organization (row-level security)."""
    with context.bound(principal=principal_of(caller)):
        yield


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


class TokenIssuer:
    """Signs access tokens as identity does (EdDSA, ``kid``, iss/aud/iat/exp), with a key of
    its own: a server under test verifies them once given ``jwks`` as its key source
    (``ServiceSpec.jwks``). Claims can be overridden to forge what an attacker would send."""

    def __init__(self, settings: TokenSettings | None = None) -> None:
        self.settings = settings if settings is not None else TokenSettings()
        self.kid = f"test-{secrets.token_hex(4)}"
        self._key = Ed25519PrivateKey.generate()

    def public_jwk(self) -> dict[str, str]:
        raw = self._key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return {"kty": "OKP", "crv": "Ed25519", "x": _b64(raw), "kid": self.kid, "alg": "EdDSA"}

    async def jwks(self) -> Mapping[str, Any]:
        return {"keys": [self.public_jwk()]}

    def sign(self, claims: Mapping[str, Any], *, header: Mapping[str, Any] | None = None) -> str:
        """A token over exactly ``claims`` (nothing added), signed with this issuer's key."""
        head = {"alg": "EdDSA", "typ": "JWT", "kid": self.kid, **(header or {})}
        signing_input = f"{_b64(json.dumps(head).encode())}.{_b64(json.dumps(claims).encode())}"
        signature = self._key.sign(signing_input.encode())
        return f"{signing_input}.{_b64(signature)}"

    def token(
        self,
        org_id: str = "",
        *,
        subject: str = "",
        roles: Sequence[str] = ("OWNER",),
        scopes: Sequence[str] = (),
        kind: str = "user",
        session_id: str = "",
        ttl_seconds: int = 900,
        **overrides: Any,
    ) -> str:
        """A valid access token (unless ``overrides`` say otherwise, e.g. ``exp=...``)."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.settings.issuer,
            "aud": self.settings.audience,
            "sub": subject or f"{kind}-{org_id[:8] or 'none'}",
            "org": org_id,
            "roles": list(roles),
            "scope": " ".join(scopes),
            "kind": kind,
            "iat": now,
            "exp": now + ttl_seconds,
            "jti": secrets.token_hex(8),
        }
        if session_id:
            claims["sid"] = session_id
        claims.update(overrides)
        return self.sign({k: v for k, v in claims.items() if v is not None})

    def metadata(self, org_id: str = "", **claims: Any) -> tuple[tuple[str, str], ...]:
        """Call metadata carrying ``token(org_id, **claims)`` as the gateway forwards it."""
        return (("authorization", f"Bearer {self.token(org_id, **claims)}"),)


def merged_jwks(
    *sources: Callable[[], Awaitable[Mapping[str, Any]]],
) -> Callable[[], Awaitable[Mapping[str, Any]]]:
    """One key source publishing the keys of all ``sources`` (identity's own and a test's)."""

    async def fetch() -> Mapping[str, Any]:
        keys: list[Any] = []
        for source in sources:
            keys += (await source()).get("keys", [])
        return {"keys": keys}

    return fetch


ROW_SECURITY_LIFTS = (
    "ALTER TABLE {} NO FORCE ROW LEVEL SECURITY",
    "ALTER TABLE {} DISABLE ROW LEVEL SECURITY",
    "DROP POLICY tenant_isolation ON {}",
    "CREATE POLICY spy ON {} USING (true)",
)
"""What a service's runtime role must be refused on a policed table (format with its name)."""


def row_security_flags(database_url: str, tables: Iterable[str]) -> list[tuple[str, bool, bool]]:
    """(table, row security on, forced) of each of ``tables``, sorted by name."""
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class"
            " WHERE relname = ANY(%s) ORDER BY relname",
            (sorted(tables),),
        ).fetchall()
    return [(str(name), bool(on), bool(forced)) for name, on, forced in rows]


@contextmanager
def messages_sent(engine: AsyncEngine) -> Iterator[list[str]]:
    """The protocol messages (Query, Parse, Bind, Execute, Sync...) the connections ``engine``
    hands out inside the block send, in order; the list fills on leaving. No ``Query``: no
    BEGIN, SET LOCAL, COMMIT or ROLLBACK (psycopg sends them as simple queries)."""
    sent: list[str] = []
    traced: list[psycopg.AsyncConnection[Any]] = []
    with tempfile.TemporaryFile("w+") as trace:

        def on_checkout(_dbapi: Any, record: Any, _proxy: Any) -> None:
            driver = record.driver_connection
            if any(driver is seen for seen in traced):
                return
            driver.pgconn.trace(trace.fileno())
            driver.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS)
            traced.append(driver)

        event.listen(engine.sync_engine, "checkout", on_checkout)
        try:
            yield sent
        finally:
            event.remove(engine.sync_engine, "checkout", on_checkout)
            for driver in traced:
                driver.pgconn.untrace()
            trace.seek(0)
            # Lines of the libpq trace: direction, length, message type and its fields.
            sent.extend(line.split("\t")[2].split()[0] for line in trace if line.startswith("F\t"))
