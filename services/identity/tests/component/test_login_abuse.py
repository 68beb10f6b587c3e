"""Login abuse over the wire: a real identity server, PostgreSQL and Redis.

Each test is an attack tried as a stranger would: a second account under the victim's email
in the attacker's own organization, a stranger's guesses from one address, a forged client
address sent straight to the service port.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from keel.identity.v1 import (
    auth_service_pb2,
    auth_service_pb2_grpc,
    organization_service_pb2,
    organization_service_pb2_grpc,
    user_service_pb2,
    user_service_pb2_grpc,
)

from identity.adapters.crypto.passwords import Argon2Hasher
from identity.bootstrap import Overrides, build
from identity.config import IdentityConfig
from keel_devstack.certs import MeshCertificates
from keel_runtime.server import RunningServer, start
from keel_runtime.settings import ServerSettings

from .conftest import FAST_ARGON2, bearer

VICTIM_PASSWORD = "victim's long passphrase"
ATTACKER_PASSWORD = "attacker's own passphrase"


class CountingHasher(Argon2Hasher):
    """Counts argon2 verifications, the dummy one for unknown emails included."""

    def __init__(self) -> None:
        super().__init__(FAST_ARGON2)
        self.verifications = 0

    async def verify(self, password_hash: str, password: str) -> bool:
        self.verifications += 1
        return await super().verify(password_hash, password)


@pytest.fixture
def hasher() -> CountingHasher:
    return CountingHasher()


@pytest.fixture
def config(migrated_database_url: str, redis_url: str) -> IdentityConfig:
    return dataclasses.replace(
        IdentityConfig(database_url=migrated_database_url), redis_url=redis_url
    )


@pytest.fixture
async def server(
    config: IdentityConfig, hasher: CountingHasher, mesh_certs: MeshCertificates
) -> AsyncIterator[RunningServer]:
    spec = await build(config, Overrides(hasher=hasher))
    settings = ServerSettings(bind="127.0.0.1:0", grace_seconds=1, tls=mesh_certs["identity"].tls)
    running = await start(spec, settings)
    yield running
    await running.stop(1)


def from_address(address: str) -> tuple[tuple[str, str], ...]:
    # As the gateway sends it (the test's peer is loopback, trusted by default).
    return (("x-envoy-external-address", address),)


def fresh_address() -> str:
    # Redis is shared by the whole session: a fresh address keeps tests apart.
    return f"198.51.100.{uuid.uuid4().int % 250 + 1}-{uuid.uuid4().hex[:8]}"


async def sign_up(channel: grpc.aio.Channel, email: str, password: str) -> str:
    reply = await organization_service_pb2_grpc.OrganizationServiceStub(channel).CreateOrganization(
        organization_service_pb2.CreateOrganizationRequest(
            display_name="Engines", owner_email=email, owner_password=password
        )
    )
    return str(reply.organization.organization_id)


async def login(
    channel: grpc.aio.Channel,
    email: str,
    password: str,
    *,
    organization_id: str = "",
    address: str | None = None,
) -> auth_service_pb2.LoginResponse | grpc.aio.AioRpcError:
    auth = auth_service_pb2_grpc.AuthServiceStub(channel)
    try:
        return await auth.Login(
            auth_service_pb2.LoginRequest(
                email=email, password=password, organization_id=organization_id
            ),
            metadata=from_address(address) if address else None,
        )
    except grpc.aio.AioRpcError as error:
        return error


def reason_of(error: grpc.aio.AioRpcError) -> str:
    status = rpc_status.from_call(error)
    assert status is not None
    for detail in status.details:
        info = error_details_pb2.ErrorInfo()
        if detail.Unpack(info):
            return str(info.reason)
    return ""


def outcome(reply: auth_service_pb2.LoginResponse | grpc.aio.AioRpcError) -> str:
    if isinstance(reply, grpc.aio.AioRpcError):
        return f"{reply.code().name}/{reason_of(reply)}"
    return "OK"


@pytest.fixture
async def shared_email(channel: grpc.aio.Channel) -> tuple[str, str, str]:
    """The victim signs up; then the attacker adds a user with the same email to their own org."""
    email = f"victim-{uuid.uuid4().hex}@example.com"
    victim_org = await sign_up(channel, email, VICTIM_PASSWORD)
    attacker_email = f"attacker-{uuid.uuid4().hex}@example.com"
    attacker_org = await sign_up(channel, attacker_email, ATTACKER_PASSWORD)
    grant = await login(channel, attacker_email, ATTACKER_PASSWORD, address=fresh_address())
    assert isinstance(grant, auth_service_pb2.LoginResponse)
    await user_service_pb2_grpc.UserServiceStub(channel).CreateUser(
        user_service_pb2.CreateUserRequest(email=email, initial_password=ATTACKER_PASSWORD),
        metadata=bearer(grant.grant.access_token),
    )
    return email, victim_org, attacker_org


async def test_the_attackers_own_success_never_resets_the_victims_count(
    channel: grpc.aio.Channel, shared_email: tuple[str, str, str]
) -> None:
    email, victim_org, attacker_org = shared_email
    address = fresh_address()
    outcomes = []
    for guess in range(12):
        outcomes.append(
            outcome(
                await login(
                    channel,
                    email,
                    f"guess {guess}",
                    organization_id=victim_org,
                    address=address,
                )
            )
        )
        own = await login(
            channel, email, ATTACKER_PASSWORD, organization_id=attacker_org, address=address
        )
        assert outcome(own) == "OK"

    assert outcomes[:5] == ["UNAUTHENTICATED/INVALID_CREDENTIALS"] * 5
    assert set(outcomes[5:]) == {"RESOURCE_EXHAUSTED/TOO_MANY_LOGIN_ATTEMPTS"}


async def test_a_password_of_another_account_is_no_oracle(
    channel: grpc.aio.Channel, shared_email: tuple[str, str, str]
) -> None:
    email, victim_org, attacker_org = shared_email
    address = fresh_address()

    # Without an organization the email's first registered account is the only target:
    # the attacker's own (correct) password is a wrong password there, like any other.
    own_password = await login(channel, email, ATTACKER_PASSWORD, address=address)
    wrong_password = await login(channel, email, "nothing like it", address=address)
    unknown_email = await login(
        channel, f"nobody-{uuid.uuid4().hex}@example.com", ATTACKER_PASSWORD, address=address
    )
    assert isinstance(own_password, grpc.aio.AioRpcError)
    assert isinstance(wrong_password, grpc.aio.AioRpcError)
    assert isinstance(unknown_email, grpc.aio.AioRpcError)
    assert outcome(own_password) == outcome(wrong_password) == outcome(unknown_email)
    assert outcome(own_password) == "UNAUTHENTICATED/INVALID_CREDENTIALS"
    assert own_password.details() == wrong_password.details() == unknown_email.details()

    # A password that two accounts share logs in to the targeted one: no ORGANIZATION_REQUIRED.
    matched = await login(channel, email, VICTIM_PASSWORD, address=address)
    assert isinstance(matched, auth_service_pb2.LoginResponse)
    assert matched.grant.organization_id == victim_org
    named = await login(
        channel, email, ATTACKER_PASSWORD, organization_id=attacker_org, address=address
    )
    assert isinstance(named, auth_service_pb2.LoginResponse)
    assert named.grant.organization_id == attacker_org


async def test_each_login_verifies_exactly_one_password(
    channel: grpc.aio.Channel, shared_email: tuple[str, str, str], hasher: CountingHasher
) -> None:
    email, _, _ = shared_email
    address = fresh_address()
    single = f"single-{uuid.uuid4().hex}@example.com"
    await sign_up(channel, single, VICTIM_PASSWORD)
    attempts = [
        (email, "wrong"),  # an email in two organizations
        (email, ATTACKER_PASSWORD),
        (single, "wrong"),  # an email in one
        (f"nobody-{uuid.uuid4().hex}@example.com", "wrong"),  # no account: a dummy verify
    ]
    for attempt_email, password in attempts:
        before = hasher.verifications
        await login(channel, attempt_email, password, address=address)
        assert hasher.verifications - before == 1, attempt_email


async def test_a_strangers_guesses_do_not_lock_the_owner_out(
    channel: grpc.aio.Channel,
) -> None:
    email = f"owner-{uuid.uuid4().hex}@example.com"
    await sign_up(channel, email, VICTIM_PASSWORD)
    stranger, owner = fresh_address(), fresh_address()

    replies = [await login(channel, email, f"guess {n}", address=stranger) for n in range(20)]

    assert [outcome(r) for r in replies[:5]] == ["UNAUTHENTICATED/INVALID_CREDENTIALS"] * 5
    refused = replies[-1]
    assert isinstance(refused, grpc.aio.AioRpcError)
    assert outcome(refused) == "RESOURCE_EXHAUSTED/TOO_MANY_LOGIN_ATTEMPTS"
    # The stranger is told when to come back, in the trailers and in the rich status.
    trailers = dict(refused.trailing_metadata() or ())
    assert int(trailers["retry-after"]) >= 1
    status = rpc_status.from_call(refused)
    assert status is not None
    retry = error_details_pb2.RetryInfo()
    assert any(d.Unpack(retry) for d in status.details)
    assert retry.retry_delay.seconds == int(trailers["retry-after"])

    assert outcome(await login(channel, email, VICTIM_PASSWORD, address=owner)) == "OK"


async def test_unknown_emails_are_throttled_like_known_ones(channel: grpc.aio.Channel) -> None:
    known = f"known-{uuid.uuid4().hex}@example.com"
    await sign_up(channel, known, VICTIM_PASSWORD)
    unknown = f"unknown-{uuid.uuid4().hex}@example.com"
    address = fresh_address()

    known_outcomes = [outcome(await login(channel, known, "x", address=address)) for _ in range(7)]
    unknown_outcomes = [
        outcome(await login(channel, unknown, "x", address=address)) for _ in range(7)
    ]

    assert known_outcomes == unknown_outcomes
    assert known_outcomes[-1] == "RESOURCE_EXHAUSTED/TOO_MANY_LOGIN_ATTEMPTS"


class TestUntrustedCaller:
    """The service port reached directly, by a caller that is not the gateway."""

    @pytest.fixture
    def config(self, migrated_database_url: str, redis_url: str) -> IdentityConfig:
        return dataclasses.replace(
            IdentityConfig(database_url=migrated_database_url),
            redis_url=redis_url,
            trusted_proxies=("192.0.2.10/32",),  # the gateway lives elsewhere
        )

    async def test_a_forged_client_address_does_not_escape_throttling(
        self, channel: grpc.aio.Channel
    ) -> None:
        email = f"owner-{uuid.uuid4().hex}@example.com"
        await sign_up(channel, email, VICTIM_PASSWORD)

        # A new forged address on every guess: each would be a fresh throttle key if trusted.
        outcomes = [
            outcome(await login(channel, email, f"guess {n}", address=fresh_address()))
            for n in range(6)
        ]

        assert outcomes[-1] == "RESOURCE_EXHAUSTED/TOO_MANY_LOGIN_ATTEMPTS"
