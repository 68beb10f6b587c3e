"""Composition root: engine, keys, Redis, handlers and servicers -> a runtime ServiceSpec."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from keel.identity.v1 import (
    admin_service_pb2_grpc,
    api_key_service_pb2_grpc,
    audit_service_pb2_grpc,
    auth_service_pb2_grpc,
    organization_service_pb2_grpc,
    user_service_pb2_grpc,
)
from redis.asyncio import Redis

from identity.app.handlers import Handlers, build_handlers
from identity.app.ports import Clock, LoginThrottle, PasswordHasher
from identity.app.sessions import SessionPolicy
from identity.clock import SystemClock
from identity.config import IdentityConfig
from identity.crypto.passwords import Argon2Hasher
from identity.crypto.tokens import JwtTokenService
from identity.events.relay import run_relay
from identity.events.revocations import revocation_writer
from identity.storage.retention import RetentionPolicy, purge_now
from identity.storage.signing_keys import SqlSigningKeyStore
from identity.storage.uow import SqlUnitOfWork
from identity.throttle import NoThrottle, RedisLoginThrottle
from identity.transport.api_keys import ApiKeyServicer
from identity.transport.auth import AuthServicer
from identity.transport.client_address import ClientAddress
from identity.transport.errors import ERROR_MAP
from identity.transport.operations import AdminServicer, AuditServicer
from identity.transport.organizations import OrganizationServicer
from identity.transport.users import UserServicer
from keel_runtime.db import create_engine
from keel_runtime.events import connect_nats
from keel_runtime.events.revocation_feed import RevocationFeed
from keel_runtime.metrics import Metrics
from keel_runtime.periodic import run_periodically
from keel_runtime.server import ServiceSpec

SERVICE = "identity"
# A retired key stays published until every token it signed has expired, plus skew.
_RETIRED_KEY_MARGIN = timedelta(minutes=5)


@dataclass
class Overrides:
    """Test seams: a fixed clock, cheap hashing, a throttle without Redis."""

    clock: Clock | None = None
    hasher: PasswordHasher | None = None
    throttle: LoginThrottle | None = None


async def build(config: IdentityConfig, overrides: Overrides | None = None) -> ServiceSpec:
    """Everything identity needs, connected and ready; the runtime serves it."""
    overrides = overrides or Overrides()
    clock = overrides.clock or SystemClock()
    engine = create_engine(config.database_url)
    metrics = Metrics(SERVICE)
    closers: list[Callable[[], Awaitable[None]]] = []
    nats = None
    try:
        access_ttl = timedelta(seconds=config.access_token_ttl_seconds)
        tokens = JwtTokenService(
            SqlSigningKeyStore(engine),
            clock,
            issuer=config.jwt_issuer,
            audience=config.jwt_audience,
            retired_key_lifetime=access_ttl + _RETIRED_KEY_MARGIN,
            passphrase=(config.signing_key_passphrase or "").encode() or None,
            publish_lead=timedelta(seconds=config.signing_key_publish_lead_seconds),
        )
        # Generates the first signing key on the very first start.
        await tokens.start()
        throttle = overrides.throttle
        if throttle is None and config.redis_url:
            redis = Redis.from_url(config.redis_url)
            closers.append(redis.aclose)
            throttle = RedisLoginThrottle(redis, config.login_throttle)
        handlers = build_handlers(
            uow=lambda: SqlUnitOfWork(engine),
            hasher=overrides.hasher or Argon2Hasher(config.argon2),
            tokens=tokens,
            throttle=throttle or NoThrottle(),
            clock=clock,
            policy=SessionPolicy(
                access_ttl=access_ttl,
                refresh_ttl=timedelta(seconds=config.refresh_token_ttl_seconds),
                refresh_grace=timedelta(seconds=config.refresh_grace_seconds),
            ),
        )
        if config.nats_url:
            nats, js = await connect_nats(config.nats_url, name="identity", tls=config.tls)
            writer = await revocation_writer(
                engine, js, access_ttl=access_ttl, streams=config.streams, metrics=metrics
            )
    except BaseException:
        if nats is not None:
            await nats.close()
        await engine.dispose()
        raise
    retention = RetentionPolicy()
    background: list[Callable[[], Awaitable[None]]] = [
        functools.partial(
            run_periodically,
            functools.partial(purge_now, engine, clock, retention),
            interval_s=retention.interval.total_seconds(),
            name="purge_expired",
            metrics=metrics,
        )
    ]
    if nats is not None:
        background.append(functools.partial(run_relay, engine, js, config.streams, metrics))
        background.append(writer.run)
        closers.append(nats.drain)
    return ServiceSpec(
        name=SERVICE,
        servicers=servicers(handlers, clock, ClientAddress(config.trusted_proxies)),
        error_map=ERROR_MAP,
        background=background,
        # Failed-login audit entries still being written go in before the engine closes.
        closers=[*closers, handlers.login.settled, engine.dispose],
        database=engine,
        nats=nats,
        metrics=metrics,
        # Identity verifies access tokens against its own published keys, read in-process.
        jwks=tokens.jwks,
        revocations=RevocationFeed(js) if nats is not None else None,
    )


def servicers(
    handlers: Handlers, clock: Clock, client_address: ClientAddress | None = None
) -> list[tuple[Callable[..., None], object]]:
    return [
        (
            organization_service_pb2_grpc.add_OrganizationServiceServicer_to_server,
            OrganizationServicer(handlers),
        ),
        (user_service_pb2_grpc.add_UserServiceServicer_to_server, UserServicer(handlers)),
        (
            auth_service_pb2_grpc.add_AuthServiceServicer_to_server,
            AuthServicer(handlers, client_address or ClientAddress()),
        ),
        (
            api_key_service_pb2_grpc.add_ApiKeyServiceServicer_to_server,
            ApiKeyServicer(handlers, clock),
        ),
        (audit_service_pb2_grpc.add_AuditServiceServicer_to_server, AuditServicer(handlers)),
        (admin_service_pb2_grpc.add_AdminServiceServicer_to_server, AdminServicer(handlers)),
    ]
