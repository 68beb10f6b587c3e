"""Login throttling in Redis: per targeted account and client address, progressive delays.

The numbers and the reasons behind them are in the service README ("Login"). In short:

- account + address: a few failures are free, then that address waits before each new
  attempt on that account, the wait doubling up to a cap. Other addresses are unaffected,
  so a stranger's guesses never lock the owner out.
- account (all addresses) and address (all accounts): high caps within a window, against
  many addresses guessing one account and one address spraying many accounts. An address
  that logged in to the account recently ("known") is exempt from both, so even then the
  owner's usual addresses keep working.

An attempt is counted when it is admitted, before the password is verified, and a success
takes it back: parallel guesses cannot all slip through before the first one is counted.
"""

from __future__ import annotations

import hashlib
import logging
import math
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import RedisError

from identity.domain.errors import TooManyLoginAttempts

log = logging.getLogger(__name__)


class NoThrottle:
    """For tests and deployments without Redis: never refuses."""

    async def admit(self, account: str, address: str) -> None:
        return None

    async def succeeded(self, account: str, address: str) -> None:
        return None


@dataclass(frozen=True)
class ThrottlePolicy:
    free_failures: int = 5
    """Failures of one address on one account before that address has to wait."""
    first_delay_seconds: int = 30
    """The first wait; it doubles with each further failure..."""
    max_delay_seconds: int = 900
    """...up to this."""
    pair_memory_seconds: int = 24 * 3600
    """An account+address failure count is forgotten after this long without failures."""
    account_limit: int = 100
    """Failures on one account from all addresses within the window; known addresses pass."""
    address_limit: int = 50
    """Failures from one address on all accounts within the window; known addresses pass."""
    window_seconds: int = 900
    known_address_seconds: int = 30 * 24 * 3600
    """How long a successful login makes its address known to the account."""


# KEYS: pair count, pair lock, account count, address count, known marker.
# ARGV: free failures, first delay ms, max delay ms, pair memory s, account limit,
#       address limit, window s.
# Returns {limit, wait ms} when refused, {"", count} when admitted.
_ADMIT = """
local wait = redis.call('PTTL', KEYS[2])
if wait > 0 then return {'account_address', wait} end
if redis.call('EXISTS', KEYS[5]) == 0 then
  if tonumber(redis.call('GET', KEYS[4]) or '0') >= tonumber(ARGV[6]) then
    return {'address', redis.call('PTTL', KEYS[4])}
  end
  if tonumber(redis.call('GET', KEYS[3]) or '0') >= tonumber(ARGV[5]) then
    return {'account', redis.call('PTTL', KEYS[3])}
  end
end
local n = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[4])
for i = 3, 4 do
  redis.call('SET', KEYS[i], 0, 'EX', ARGV[7], 'NX')
  redis.call('INCR', KEYS[i])
end
local free = tonumber(ARGV[1])
if n >= free then
  local doublings = math.min(n - free, 30)
  local delay = math.min(tonumber(ARGV[2]) * 2 ^ doublings, tonumber(ARGV[3]))
  redis.call('SET', KEYS[2], 1, 'PX', math.floor(delay))
end
return {'', n}
"""

# KEYS as above; ARGV: known address seconds.
_SUCCEEDED = """
redis.call('DEL', KEYS[1], KEYS[2])
for i = 3, 4 do
  if tonumber(redis.call('GET', KEYS[i]) or '0') > 0 then redis.call('DECR', KEYS[i]) end
end
redis.call('SET', KEYS[5], 1, 'EX', ARGV[1])
return 1
"""


def _digest(value: str) -> str:
    # Keys hold digests: Redis never sees addresses or emails themselves.
    return hashlib.sha256(value.encode()).hexdigest()[:32]


class RedisLoginThrottle:
    """It fails open: with Redis down, logins still work (the gateway's rate limits
    remain), rather than nobody being able to log in."""

    def __init__(self, redis: Redis, policy: ThrottlePolicy = ThrottlePolicy()) -> None:
        self._policy = policy
        self._admit = redis.register_script(_ADMIT)
        self._succeeded = redis.register_script(_SUCCEEDED)

    def _keys(self, account: str, address: str) -> list[str]:
        pair = _digest(f"{account}|{address}")
        return [
            f"identity:login:pair:{pair}:count",
            f"identity:login:pair:{pair}:wait",
            f"identity:login:account:{_digest(account)}",
            f"identity:login:address:{_digest(address)}",
            f"identity:login:known:{pair}",
        ]

    async def admit(self, account: str, address: str) -> None:
        p = self._policy
        try:
            limit, value = await self._admit(
                keys=self._keys(account, address),
                args=[
                    p.free_failures,
                    p.first_delay_seconds * 1000,
                    p.max_delay_seconds * 1000,
                    p.pair_memory_seconds,
                    p.account_limit,
                    p.address_limit,
                    p.window_seconds,
                ],
            )
        except RedisError:
            log.warning("login throttle unavailable; allowing the attempt", exc_info=True)
            return
        if limit:
            limit = limit.decode() if isinstance(limit, bytes) else str(limit)
            seconds = max(math.ceil(int(value) / 1000), 1)
            raise TooManyLoginAttempts(retry_after_seconds=seconds, limit=limit)

    async def succeeded(self, account: str, address: str) -> None:
        try:
            await self._succeeded(
                keys=self._keys(account, address), args=[self._policy.known_address_seconds]
            )
        except RedisError:
            log.warning("login throttle unavailable; count not cleared", exc_info=True)
