"""argon2id password hashing (argon2-cffi), off the event loop."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError


@dataclass(frozen=True)
class Argon2Params:
    """OWASP's argon2id row m=19 MiB, t=2, p=1: ~30 ms of one core per hash, so a core
    serves well over 15 logins/s (README, "Password hashing"). RFC 9106's 64 MiB, t=3, p=4
    cost ~220 ms here; hashes made with other parameters are upgraded on the next login.
    Tests pass cheaper ones."""

    time_cost: int = 2
    memory_cost_kib: int = 19456
    parallelism: int = 1


class Argon2Hasher:
    def __init__(self, params: Argon2Params = Argon2Params()) -> None:
        self._hasher = PasswordHasher(
            time_cost=params.time_cost,
            memory_cost=params.memory_cost_kib,
            parallelism=params.parallelism,
            type=Type.ID,
        )
        # Unknown emails are checked against this, so they cost as much as known ones.
        self._dummy = self._hasher.hash("keel-identity-dummy-password")

    async def hash(self, password: str) -> str:
        # argon2 releases the GIL: a worker thread keeps the event loop serving.
        return await asyncio.to_thread(self._hasher.hash, password)

    async def verify(self, password_hash: str, password: str) -> bool:
        return await asyncio.to_thread(self._verify, password_hash, password)

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return bool(self._hasher.verify(password_hash, password))
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        return bool(self._hasher.check_needs_rehash(password_hash))

    async def burn(self, password: str) -> None:
        await self.verify(self._dummy, password)
