"""Login throttling in Redis: per account+address delays, account and address caps."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from identity.adapters.throttle import RedisLoginThrottle, ThrottlePolicy
from identity.domain.errors import TooManyLoginAttempts

pytestmark = pytest.mark.integration


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


async def refused(throttle: RedisLoginThrottle, account: str, address: str) -> TooManyLoginAttempts:
    with pytest.raises(TooManyLoginAttempts) as caught:
        await throttle.admit(account, address)
    return caught.value


async def test_an_address_waits_longer_after_each_failure(redis: Redis, unique_name: str) -> None:
    throttle = RedisLoginThrottle(
        redis, ThrottlePolicy(free_failures=2, first_delay_seconds=30, max_delay_seconds=100)
    )
    account, address = f"{unique_name}-account", f"{unique_name}-address"
    await throttle.admit(account, address)
    await throttle.admit(account, address)

    first = await refused(throttle, account, address)
    assert first.metadata["limit"] == "account_address"
    assert 25 <= first.retry_after_seconds <= 30
    await redis.delete(f"identity:login:pair:{_pair(account, address)}:wait")  # time passes
    await throttle.admit(account, address)
    assert 55 <= (await refused(throttle, account, address)).retry_after_seconds <= 60
    await redis.delete(f"identity:login:pair:{_pair(account, address)}:wait")
    await throttle.admit(account, address)
    assert 95 <= (await refused(throttle, account, address)).retry_after_seconds <= 100  # cap

    # Another address, and this address on another account, are not held up.
    await throttle.admit(account, f"{unique_name}-elsewhere")
    await throttle.admit(f"{unique_name}-other-account", address)


async def test_a_success_clears_only_its_own_account(redis: Redis, unique_name: str) -> None:
    throttle = RedisLoginThrottle(redis, ThrottlePolicy(free_failures=2))
    victim, attacker, address = f"{unique_name}-v", f"{unique_name}-a", f"{unique_name}-ip"
    await throttle.admit(victim, address)
    await throttle.admit(attacker, address)
    await throttle.succeeded(attacker, address)
    await throttle.admit(victim, address)

    assert (await refused(throttle, victim, address)).metadata["limit"] == "account_address"
    await throttle.succeeded(victim, address)  # the owner, who knew the password
    await throttle.admit(victim, address)


async def test_account_cap_spares_addresses_that_logged_in_before(
    redis: Redis, unique_name: str
) -> None:
    throttle = RedisLoginThrottle(redis, ThrottlePolicy(free_failures=10, account_limit=3))
    account = f"{unique_name}-account"
    await throttle.admit(account, f"{unique_name}-home")
    await throttle.succeeded(account, f"{unique_name}-home")
    for n in range(3):
        await throttle.admit(account, f"{unique_name}-bot{n}")

    assert (await refused(throttle, account, f"{unique_name}-bot9")).metadata["limit"] == "account"
    await throttle.admit(account, f"{unique_name}-home")


async def test_address_cap_across_accounts(redis: Redis, unique_name: str) -> None:
    throttle = RedisLoginThrottle(redis, ThrottlePolicy(account_limit=100, address_limit=3))
    address = f"198.51.100.{len(unique_name)}-{unique_name}"
    for n in range(3):
        await throttle.admit(f"{unique_name}{n}", address)

    caught = await refused(throttle, f"{unique_name}new", address)
    assert caught.metadata["limit"] == "address"
    assert 0 < caught.retry_after_seconds <= 900


def _pair(account: str, address: str) -> str:
    return hashlib.sha256(f"{account}|{address}".encode()).hexdigest()[:32]
