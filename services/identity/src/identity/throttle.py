"""Login throttling: failed attempts counted per account and per address in Redis."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import RedisError

from identity.domain.errors import TooManyLoginAttempts


class NoThrottle:
    """For tests and deployments without Redis: never refuses."""

    async def check(self, email: str, address: str) -> None:
        return None

    async def failed(self, email: str, address: str) -> None:
        return None

    async def succeeded(self, email: str, address: str) -> None:
        return None


@dataclass(frozen=True)
class ThrottlePolicy:
    account_limit: int = 5
    """Failures per account within the window before it is locked."""
    address_limit: int = 50
    """Failures per client address within the window (many accounts, one attacker)."""
    window_seconds: int = 900


def _digest(value: str) -> str:
    # Keys hold digests: Redis never sees the emails themselves.
    return hashlib.sha256(value.encode()).hexdigest()[:32]


log = logging.getLogger(__name__)


class RedisLoginThrottle:
    """Fixed windows that start at the first failure; a success clears the account's count.

    It fails open: with Redis down, logins still work (the gateway's rate limits remain),
    rather than nobody being able to log in.
    """

    def __init__(self, redis: Redis, policy: ThrottlePolicy = ThrottlePolicy()) -> None:
        self._redis = redis
        self._policy = policy

    def _keys(self, email: str, address: str) -> tuple[str, str]:
        return (
            f"identity:login:account:{_digest(email)}",
            f"identity:login:address:{_digest(address)}",
        )

    async def check(self, email: str, address: str) -> None:
        account_key, address_key = self._keys(email, address)
        try:
            account, by_address = await self._redis.mget(account_key, address_key)
        except RedisError:
            log.warning("login throttle unavailable; allowing the attempt", exc_info=True)
            return
        if int(account or 0) >= self._policy.account_limit:
            retry = await self._redis.ttl(account_key)
            raise TooManyLoginAttempts(retry_after_seconds=str(max(retry, 1)), limit="account")
        if int(by_address or 0) >= self._policy.address_limit:
            retry = await self._redis.ttl(address_key)
            raise TooManyLoginAttempts(retry_after_seconds=str(max(retry, 1)), limit="address")

    async def failed(self, email: str, address: str) -> None:
        try:
            await self._count_failure(email, address)
        except RedisError:
            log.warning("login throttle unavailable; failure not counted", exc_info=True)

    async def _count_failure(self, email: str, address: str) -> None:
        window = self._policy.window_seconds
        async with self._redis.pipeline(transaction=True) as pipe:
            for key in self._keys(email, address):
                # SET NX starts the window at the first failure; INCR keeps its TTL, so
                # later failures do not extend it (and this works on Redis < 7 too).
                pipe.set(key, 0, ex=window, nx=True)
                pipe.incr(key)
            await pipe.execute()

    async def succeeded(self, email: str, address: str) -> None:
        account_key, _ = self._keys(email, address)
        try:
            await self._redis.delete(account_key)
        except RedisError:
            log.warning("login throttle unavailable; count not cleared", exc_info=True)
