"""Domain model <-> keel.ledger.v1 resource messages (shared by transport and event codec)."""

from __future__ import annotations

from datetime import datetime

from keel.ledger.v1 import resources_pb2 as pb
from keel.type.v1 import asset_pb2

from keel_runtime.timestamps import timestamp
from ledger.domain.model import (
    Account,
    AccountKind,
    Asset,
    Balance,
    BalanceBound,
    HistoryEntry,
    Posting,
    Side,
    Transaction,
    TransactionKind,
    TransactionState,
)


def kind_to_proto(kind: AccountKind) -> int:
    return int(pb.AccountKind.Value(f"ACCOUNT_KIND_{kind.value}"))


def kind_from_proto(value: int) -> AccountKind | None:
    if value == pb.ACCOUNT_KIND_UNSPECIFIED:
        return None
    return AccountKind(pb.AccountKind.Name(value).removeprefix("ACCOUNT_KIND_"))


def bound_to_proto(bound: BalanceBound) -> int:
    return int(pb.BalanceBound.Value(f"BALANCE_BOUND_{bound.value}"))


def bound_from_proto(value: int) -> BalanceBound:
    if value == pb.BALANCE_BOUND_UNSPECIFIED:
        return BalanceBound.NONE
    return BalanceBound(pb.BalanceBound.Name(value).removeprefix("BALANCE_BOUND_"))


def side_from_proto(value: int) -> Side:
    return Side(pb.PostingSide.Name(value).removeprefix("POSTING_SIDE_"))


def asset_to_proto(asset: Asset) -> asset_pb2.Asset:
    return asset_pb2.Asset(code=asset.code, scale=asset.scale)


def account_to_proto(account: Account) -> pb.Account:
    return pb.Account(
        account_id=account.id,
        organization_id=account.org_id,
        kind=kind_to_proto(account.kind),
        asset=asset_to_proto(account.asset),
        balance_bound=bound_to_proto(account.bound),
        overdraft_limit=account.overdraft_limit,
        metadata=dict(account.metadata),
        create_time=timestamp(account.created_at),
    )


def balance_to_proto(account: Account, balance: Balance, as_of: datetime) -> pb.Balance:
    return pb.Balance(
        account_id=account.id,
        asset=asset_to_proto(account.asset),
        debits_posted=balance.debits_posted,
        credits_posted=balance.credits_posted,
        debits_pending=balance.debits_pending,
        credits_pending=balance.credits_pending,
        available=balance.available(account.bound),
        as_of_time=timestamp(as_of),
    )


def entry_to_proto(account: Account, line: HistoryEntry) -> pb.Entry:
    entry = line.entry
    return pb.Entry(
        account_id=entry.account_id,
        sequence=line.sequence,
        transaction_id=line.transaction_id,
        side=pb.PostingSide.Value(f"POSTING_SIDE_{entry.side.value}"),
        bucket=pb.EntryBucket.Value(f"ENTRY_BUCKET_{entry.bucket.value}"),
        amount=entry.amount,
        asset_code=entry.asset_code,
        create_time=timestamp(line.created_at),
        balance=balance_to_proto(account, line.balance, line.created_at),
    )


def posting_from_proto(message: pb.Posting) -> Posting:
    return Posting(
        account_id=message.account_id,
        side=side_from_proto(message.side),
        amount=message.amount,
        asset_code=message.asset_code,
    )


def posting_to_proto(posting: Posting) -> pb.Posting:
    return pb.Posting(
        account_id=posting.account_id,
        side=pb.PostingSide.Value(f"POSTING_SIDE_{posting.side.value}"),
        amount=posting.amount,
        asset_code=posting.asset_code,
    )


def _tx_kind(kind: TransactionKind) -> int:
    return int(pb.TransactionKind.Value(f"TRANSACTION_KIND_{kind.value}"))


def _tx_state(state: TransactionState) -> int:
    return int(pb.TransactionState.Value(f"TRANSACTION_STATE_{state.value}"))


def transaction_to_proto(tx: Transaction) -> pb.Transaction:
    message = pb.Transaction(
        transaction_id=tx.id,
        organization_id=tx.org_id,
        request_id=tx.request_id,
        kind=_tx_kind(tx.kind),
        state=_tx_state(tx.state),
        postings=[posting_to_proto(p) for p in tx.postings],
        metadata=dict(tx.metadata),
        pending_transaction_id=tx.pending_id or "",
        reversed_transaction_id=tx.reversed_id or "",
        resolved_by_transaction_id=tx.resolved_by_id or "",
        create_time=timestamp(tx.created_at),
    )
    if tx.expires_at is not None:
        message.expire_time.CopyFrom(timestamp(tx.expires_at))
    return message
