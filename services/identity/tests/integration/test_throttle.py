"""Login throttling in Redis: per account and per address."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from identity.domain.errors import TooManyLoginAttempts
from identity.throttle import RedisLoginThrottle, ThrottlePolicy

pytestmark = pytest.mark.integration


async def test_locks_account_after_failures_and_success_clears(redis_url, unique_name) -> None:
    redis = Redis.from_url(redis_url)
    throttle = RedisLoginThrottle(redis, ThrottlePolicy(account_limit=2, address_limit=100))
    email = f"{unique_name}@example.com"
    try:
        await throttle.check(email, "10.0.0.1")
        await throttle.failed(email, "10.0.0.1")
        await throttle.succeeded(email, "10.0.0.1")
        await throttle.failed(email, "10.0.0.1")
        await throttle.check(email, "10.0.0.1")
        await throttle.failed(email, "10.0.0.2")

        with pytest.raises(TooManyLoginAttempts) as caught:
            await throttle.check(email, "10.0.0.3")
        assert caught.value.metadata["limit"] == "account"
        assert 0 < int(caught.value.metadata["retry_after_seconds"]) <= 900
    finally:
        await redis.aclose()


async def test_locks_address_across_accounts(redis_url, unique_name) -> None:
    redis = Redis.from_url(redis_url)
    throttle = RedisLoginThrottle(redis, ThrottlePolicy(account_limit=100, address_limit=3))
    address = f"198.51.100.{len(unique_name)}-{unique_name}"
    try:
        for n in range(3):
            await throttle.failed(f"{unique_name}{n}@example.com", address)

        with pytest.raises(TooManyLoginAttempts) as caught:
            await throttle.check(f"{unique_name}new@example.com", address)
        assert caught.value.metadata["limit"] == "address"
    finally:
        await redis.aclose()
