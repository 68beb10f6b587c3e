"""Composition root: identity's keys, throttle, handlers and servicers on the runtime."""

from __future__ import annotations

import functools
from collections.abc import Callable
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

from identity.adapters.clock import SystemClock
from identity.adapters.crypto.passwords import Argon2Hasher
from identity.adapters.crypto.tokens import JwtTokenService
from identity.adapters.throttle import NoThrottle, RedisLoginThrottle
from identity.app.handlers import Handlers, build_handlers
from identity.app.ports import Clock, LoginThrottle, PasswordHasher
from identity.app.sessions import SessionPolicy
from identity.config import IdentityConfig
from identity.events.revocations import declare_revocations
from identity.storage.retention import RetentionPolicy, purge_now
from identity.storage.schema import SCHEMA
from identity.storage.signing_keys import SqlSigningKeyStore
from identity.storage.uow import SqlUnitOfWork
from identity.transport.api_keys import ApiKeyServicer
from identity.transport.auth import AuthServicer
from identity.transport.client_address import ClientAddress
from identity.transport.errors import ERROR_MAP
from identity.transport.operations import AdminServicer, AuditServicer
from identity.transport.organizations import OrganizationServicer
from identity.transport.users import UserServicer
from keel_runtime.server import ServiceSpec
from keel_runtime.service import Assembly, ServiceDefinition

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
    async with Assembly(SERVICE, config) as service:
        engine = service.engine
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
            service.close_with(redis.aclose)
            throttle = RedisLoginThrottle(redis, config.login_throttle)
        handlers = build_handlers(
            uow=lambda: SqlUnitOfWork(engine),
            reads=lambda: SqlUnitOfWork(engine, read_only=True),
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
        # Failed-login audit entries still being written go in before the engine closes.
        service.close_with(handlers.auth.settled)
        if service.events:
            service.consume(
                await declare_revocations(
                    service.jetstream, access_ttl=access_ttl, streams=config.streams
                )
            )
        retention = RetentionPolicy()
        service.every(
            functools.partial(purge_now, engine, clock, retention),
            interval_s=retention.interval.total_seconds(),
            name="purge_expired",
        )
        return service.spec(
            servicers(handlers, clock, ClientAddress(config.trusted_proxies)),
            ERROR_MAP,
            # Identity verifies access tokens against its own published keys, read in-process.
            jwks=tokens.jwks,
        )


DEFINITION = ServiceDefinition(SERVICE, SCHEMA, IdentityConfig.from_env, build)


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
