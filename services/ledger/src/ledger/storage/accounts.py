"""Account repository (SQLAlchemy Core): accounts, assets and the balance rows postings lock."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy import BigInteger, ColumnElement, Label, case, cast, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from ledger.domain.model import Account, AccountKind, Asset, Balance
from ledger.storage import rows
from ledger.storage.hot import HotPath
from ledger.storage.tables import accounts, assets, balances, entries

_ACCOUNT = select(accounts, assets.c.scale).join(assets, assets.c.code == accounts.c.asset_code)


class SqlAccounts:
    def __init__(self, connection: AsyncConnection, hot: HotPath | None = None) -> None:
        self._conn = connection
        # Shared with the unit of work's transactions repository (see ledger.storage.hot).
        self._hot = hot or HotPath(connection)

    async def register_asset(self, asset: Asset) -> int:
        await self._conn.execute(
            insert(assets).values(code=asset.code, scale=asset.scale).on_conflict_do_nothing()
        )
        scale = await self._conn.scalar(select(assets.c.scale).where(assets.c.code == asset.code))
        assert scale is not None
        return int(scale)

    async def add(self, account: Account, *, scope: str, request_id: str, fingerprint: str) -> bool:
        inserted = await self._conn.scalar(
            insert(accounts)
            .values(
                id=account.id,
                org_id=account.org_id,
                kind=account.kind.value,
                asset_code=account.asset.code,
                bound=account.bound.value,
                overdraft_limit=account.overdraft_limit,
                metadata=dict(account.metadata),
                scope=scope,
                request_id=request_id,
                fingerprint=fingerprint,
                created_at=account.created_at,
            )
            .on_conflict_do_nothing()
            .returning(accounts.c.id)
        )
        if inserted is None:
            return False
        await self._conn.execute(insert(balances).values(account_id=account.id))
        return True

    async def _one(self, *where: ColumnElement[bool]) -> tuple[Account, str] | None:
        row = (
            (await self._conn.execute(_ACCOUNT.add_columns(accounts.c.fingerprint).where(*where)))
            .mappings()
            .first()
        )
        return None if row is None else (rows.account(row, row["scale"]), row["fingerprint"])

    async def get(self, account_id: str) -> Account | None:
        found = await self._one(accounts.c.id == account_id)
        return found[0] if found else None

    async def by_request_id(self, scope: str, request_id: str) -> tuple[Account, str] | None:
        return await self._one(accounts.c.scope == scope, accounts.c.request_id == request_id)

    async def wallet(self, org_id: str, asset_code: str) -> Account | None:
        found = await self._one(
            accounts.c.org_id == org_id,
            accounts.c.kind == AccountKind.WALLET.value,
            accounts.c.asset_code == asset_code,
        )
        return found[0] if found else None

    async def page(
        self,
        org_id: str,
        *,
        kind: AccountKind | None,
        asset_code: str,
        after: int,
        limit: int,
    ) -> list[tuple[Account, int]]:
        query = (
            _ACCOUNT.add_columns(accounts.c.seq)
            .where(accounts.c.org_id == org_id, accounts.c.seq > after)
            .order_by(accounts.c.seq)
            .limit(limit)
        )
        if kind is not None:
            query = query.where(accounts.c.kind == kind.value)
        if asset_code:
            query = query.where(accounts.c.asset_code == asset_code)
        result = (await self._conn.execute(query)).mappings().all()
        return [(rows.account(row, row["scale"]), row["seq"]) for row in result]

    async def balance(self, account_id: str, as_of: datetime | None = None) -> Balance:
        await self._hot.flush()  # read this transaction's own writes
        if as_of is None:
            row = (
                (
                    await self._conn.execute(
                        select(balances).where(balances.c.account_id == account_id)
                    )
                )
                .mappings()
                .one()
            )
            return rows.balance(row)

        def total(side: str, bucket: str) -> Label[int]:
            hit = (entries.c.side == side) & (entries.c.bucket == bucket)
            # SUM of bigint is numeric in PostgreSQL (a Decimal here); every total fits a
            # bigint (postings keep each running total within int64), so cast it back.
            summed = func.sum(case((hit, entries.c.amount), else_=0))
            return cast(func.coalesce(summed, 0), BigInteger).label(
                f"{side.lower()}s_{bucket.lower()}"
            )

        query = select(
            total("DEBIT", "POSTED"),
            total("CREDIT", "POSTED"),
            total("DEBIT", "PENDING"),
            total("CREDIT", "PENDING"),
        ).where(entries.c.account_id == account_id, entries.c.created_at <= as_of)
        return rows.balance((await self._conn.execute(query)).mappings().one())

    async def lock(self, account_ids: Sequence[str]) -> dict[str, tuple[Account, Balance]]:
        return await self._hot.lock(account_ids)

    async def save_balances(self, balances_: Mapping[str, Balance]) -> None:
        # Written together with the entries that follow (one statement; see HotPath).
        self._hot.save_balances(balances_)
