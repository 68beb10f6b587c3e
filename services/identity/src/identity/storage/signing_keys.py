"""Signing keys in the identity database; rotation is serialized by an advisory lock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from identity.adapters.crypto.keys import SigningKey, signer_of
from identity.storage.tables import signing_keys

# Any constant works; it only has to be the same in every identity replica.
_ROTATION_LOCK = 0x4B45454C  # "KEEL"


def _key(row: Any) -> SigningKey:
    return SigningKey(
        kid=row.kid,
        private_key_pem=row.private_key_pem,
        public_jwk=dict(row.public_jwk),
        created_at=row.created_at,
        retired_at=row.retired_at,
    )


class SqlSigningKeyStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def load(self, retired_since: datetime) -> list[SigningKey]:
        """Active keys and keys retired after ``retired_since``, newest first."""
        async with self._engine.connect() as conn:
            result = await conn.execute(
                select(signing_keys)
                .where(
                    signing_keys.c.retired_at.is_(None)
                    | (signing_keys.c.retired_at > retired_since)
                )
                .order_by(signing_keys.c.created_at.desc())
            )
            return [_key(r) for r in result]

    async def ensure_active(self, make: Callable[[], SigningKey]) -> SigningKey:
        """The active key, created by ``make`` if there is none (once across replicas)."""
        async with self._engine.begin() as conn:
            await self._lock(conn)
            active = await self._active(conn)
            if active is not None:
                return active
            key = make()
            await self._insert(conn, key)
            return key

    async def rotate(
        self, make: Callable[[], SigningKey], now: datetime, lead: timedelta
    ) -> tuple[SigningKey, SigningKey | None]:
        """Publish a new key beside the one signing now; returns (new, the signing one).

        Every other live key is retired: an older one has stopped signing, a newer one
        (a rotation not yet due) never signed. So at most two keys are ever live.
        """
        async with self._engine.begin() as conn:
            await self._lock(conn)
            result = await conn.execute(
                select(signing_keys).where(signing_keys.c.retired_at.is_(None))
            )
            live = [_key(r) for r in result]
            current = signer_of(live, now, lead)
            others = [k.kid for k in live if current is None or k.kid != current.kid]
            if others:
                await conn.execute(
                    update(signing_keys)
                    .where(signing_keys.c.kid.in_(others))
                    .values(retired_at=now)
                )
            key = make()
            await self._insert(conn, key)
            return key, current

    @staticmethod
    async def _lock(conn: AsyncConnection) -> None:
        await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _ROTATION_LOCK})

    @staticmethod
    async def _active(conn: AsyncConnection) -> SigningKey | None:
        row = (
            await conn.execute(
                select(signing_keys)
                .where(signing_keys.c.retired_at.is_(None))
                .order_by(signing_keys.c.created_at.desc())
                .limit(1)
            )
        ).first()
        return _key(row) if row else None

    @staticmethod
    async def _insert(conn: AsyncConnection, key: SigningKey) -> None:
        await conn.execute(
            insert(signing_keys).values(
                kid=key.kid,
                private_key_pem=key.private_key_pem,
                public_jwk=key.public_jwk,
                created_at=key.created_at,
                retired_at=None,
            )
        )
