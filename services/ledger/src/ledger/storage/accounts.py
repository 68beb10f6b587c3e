"""Account repository (SQLAlchemy Core): accounts, assets and their balances."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Label,
    Select,
    bindparam,
    case,
    cast,
    func,
    select,
    union_all,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from ledger.domain.model import Account, AccountKind, Asset, Balance, HistoryEntry
from ledger.storage import rows
from ledger.storage.tables import accounts, assets, balances, entries

_ACCOUNT_INSERT_COLUMNS = (
    "id",
    "org_id",
    "kind",
    "asset_code",
    "bound",
    "overdraft_limit",
    "metadata",
    "scope",
    "request_id",
    "fingerprint",
    "created_at",
)
_ACCOUNT = select(accounts, assets.c.scale).join(assets, assets.c.code == accounts.c.asset_code)
# Built once: the most frequent read (GetAccount) pays for no statement construction, and
# SQLAlchemy keeps the statement's cache key on it.
_BY_ID = _ACCOUNT.add_columns(accounts.c.fingerprint).where(
    accounts.c.id == bindparam("account_id")
)
# An asset's scale in one round trip: the row inserted now, or the one already there. The
# SELECT shares the INSERT's snapshot, so a code registered concurrently (committed while
# the INSERT waited on it) is in neither: the caller reads again.
_ASSET_SCALE = select(assets.c.scale).where(assets.c.code == bindparam("code"))
_INSERTED_ASSET = (
    insert(assets)
    .values(code=bindparam("code"), scale=bindparam("scale"))
    .on_conflict_do_nothing()
    .returning(assets.c.scale)
    .cte("inserted_asset")
)
_REGISTER_ASSET = union_all(select(_INSERTED_ASSET.c.scale), _ASSET_SCALE)
# Nothing inserted when a unique index (the id, the request id, one wallet per organization
# and asset) already holds the account. Its balance row follows in a statement of its own:
# the balance's row-level security policy looks the account up, which a statement does not
# see before it ends.
_ADD_ACCOUNT = (
    insert(accounts)
    .values({c: bindparam(c) for c in _ACCOUNT_INSERT_COLUMNS})
    .on_conflict_do_nothing()
    .returning(accounts.c.id)
)
_ADD_BALANCE = insert(balances).values(account_id=bindparam("id"))
_BALANCE_COLUMNS = (
    balances.c.debits_posted,
    balances.c.credits_posted,
    balances.c.debits_pending,
    balances.c.credits_pending,
)


def _totals(over: ColumnElement[int] | None = None) -> list[Label[int]]:
    """The four totals of entries, named as the balance columns; ``over``: running totals
    in that order (a window) instead of one sum per group."""

    def total(side: str, bucket: str) -> Label[int]:
        hit = (entries.c.side == side) & (entries.c.bucket == bucket)
        summed: ColumnElement[Any] = func.sum(case((hit, entries.c.amount), else_=0))
        if over is not None:
            summed = summed.over(order_by=over)
        # SUM of bigint is numeric in PostgreSQL (a Decimal here); every total fits a bigint
        # (postings keep each running total within int64), so cast it back.
        return cast(func.coalesce(summed, 0), BigInteger).label(f"{side.lower()}s_{bucket.lower()}")

    return [
        total("DEBIT", "POSTED"),
        total("CREDIT", "POSTED"),
        total("DEBIT", "PENDING"),
        total("CREDIT", "PENDING"),
    ]


class SqlAccounts:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def register_asset(self, asset: Asset) -> int:
        params = {"code": asset.code, "scale": asset.scale}
        scale = await self._conn.scalar(_REGISTER_ASSET, params)
        if scale is None:
            # Another transaction registered the code after this statement's snapshot was
            # taken (its insert waited for that one's commit): a new statement sees it.
            scale = await self._conn.scalar(_ASSET_SCALE, params)
        assert scale is not None
        return int(scale)

    async def asset_scale(self, code: str) -> int | None:
        scale = await self._conn.scalar(_ASSET_SCALE, {"code": code})
        return None if scale is None else int(scale)

    async def add(self, account: Account, *, scope: str, request_id: str, fingerprint: str) -> bool:
        inserted = await self._conn.scalar(
            _ADD_ACCOUNT,
            {
                "id": account.id,
                "org_id": account.org_id,
                "kind": account.kind.value,
                "asset_code": account.asset.code,
                "bound": account.bound.value,
                "overdraft_limit": account.overdraft_limit,
                "metadata": dict(account.metadata),
                "scope": scope,
                "request_id": request_id,
                "fingerprint": fingerprint,
                "created_at": account.created_at,
            },
        )
        if inserted is None:
            return False
        await self._conn.execute(_ADD_BALANCE, {"id": account.id})
        return True

    async def _one(self, *where: ColumnElement[bool]) -> tuple[Account, str] | None:
        return await self._first(_ACCOUNT.add_columns(accounts.c.fingerprint).where(*where))

    async def _first(
        self, query: Select[Any], params: Mapping[str, Any] | None = None
    ) -> tuple[Account, str] | None:
        row = (await self._conn.execute(query, params)).mappings().first()
        return None if row is None else (rows.account(row, row["scale"]), row["fingerprint"])

    async def get(self, account_id: str) -> Account | None:
        found = await self._first(_BY_ID, {"account_id": account_id})
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

        query = select(*_totals()).where(
            entries.c.account_id == account_id, entries.c.created_at <= as_of
        )
        return rows.balance((await self._conn.execute(query)).mappings().one())

    async def balances(
        self, account_ids: Sequence[str], as_of: datetime | None = None
    ) -> dict[str, tuple[Account, Balance]]:
        # One statement: PostgreSQL reads it from one snapshot, so every balance is taken at
        # the same instant (a transaction's entries and balance rows commit together).
        ids = list(account_ids)
        if as_of is None:
            query = _ACCOUNT.add_columns(*_BALANCE_COLUMNS).join(
                balances, balances.c.account_id == accounts.c.id
            )
        else:
            sums = (
                select(entries.c.account_id, *_totals())
                .where(entries.c.account_id.in_(ids), entries.c.created_at <= as_of)
                .group_by(entries.c.account_id)
                .subquery()
            )
            query = _ACCOUNT.add_columns(
                *(func.coalesce(sums.c[c.name], 0).label(c.name) for c in _BALANCE_COLUMNS)
            ).outerjoin(sums, sums.c.account_id == accounts.c.id)
        result = (await self._conn.execute(query.where(accounts.c.id.in_(ids)))).mappings()
        return {row["id"]: (rows.account(row, row["scale"]), rows.balance(row)) for row in result}

    async def history(self, account_id: str, *, after: int, limit: int) -> list[HistoryEntry]:
        # The running balance is a window sum from the account's first entry, so one page
        # reads every entry before it (the (account_id, account_seq) index, in order); the
        # filter on the position sits outside the window for that reason.
        running = (
            select(
                entries.c.account_seq,
                entries.c.transaction_id,
                entries.c.account_id,
                entries.c.asset_code,
                entries.c.side,
                entries.c.bucket,
                entries.c.amount,
                entries.c.created_at,
                *_totals(over=entries.c.account_seq),
            )
            .where(entries.c.account_id == account_id)
            .subquery()
        )
        query = (
            select(running)
            .where(running.c.account_seq > after)
            .order_by(running.c.account_seq)
            .limit(limit)
        )
        result = (await self._conn.execute(query)).mappings().all()
        return [rows.history_entry(row) for row in result]
