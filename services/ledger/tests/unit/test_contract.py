"""Domain <-> keel.ledger.v1 conversions, and every RPC of the contract is implemented."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from keel.ledger.v1 import (
    account_service_pb2_grpc,
    ledger_admin_service_pb2_grpc,
    transaction_service_pb2_grpc,
)
from keel.ledger.v1 import resources_pb2 as pb

from ledger import contract
from ledger.domain.model import (
    Account,
    AccountKind,
    Asset,
    BalanceBound,
    Posting,
    Side,
    Transaction,
    TransactionKind,
    TransactionState,
)
from ledger.transport.accounts import AccountServicer
from ledger.transport.admin import LedgerAdminServicer
from ledger.transport.transactions import TransactionServicer

NOW = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)


@pytest.mark.parametrize("kind", list(AccountKind))
@pytest.mark.parametrize("bound", list(BalanceBound))
def test_account_enums_round_trip(kind: AccountKind, bound: BalanceBound) -> None:
    account = Account(str(uuid.uuid4()), "o", kind, Asset("EUR", 2), bound, 0, {"k": "v"}, NOW)
    message = contract.account_to_proto(account)
    assert contract.kind_from_proto(message.kind) is kind
    assert contract.bound_from_proto(message.balance_bound) is bound
    assert message.create_time.ToDatetime(tzinfo=UTC) == NOW


def test_unspecified_enums() -> None:
    assert contract.kind_from_proto(pb.ACCOUNT_KIND_UNSPECIFIED) is None
    assert contract.bound_from_proto(pb.BALANCE_BOUND_UNSPECIFIED) is BalanceBound.NONE


@pytest.mark.parametrize("kind", list(TransactionKind))
@pytest.mark.parametrize("state", list(TransactionState))
def test_transactions_convert(kind: TransactionKind, state: TransactionState) -> None:
    legs = (Posting("a", Side.DEBIT, 5, "EUR"), Posting("b", Side.CREDIT, 5, "EUR"))
    tx = Transaction("t", "o", "r", kind, state, legs, {}, NOW, expires_at=NOW)
    message = contract.transaction_to_proto(tx)
    assert pb.TransactionKind.Name(message.kind) == f"TRANSACTION_KIND_{kind.value}"
    assert pb.TransactionState.Name(message.state) == f"TRANSACTION_STATE_{state.value}"
    assert [contract.posting_from_proto(p) for p in message.postings] == list(legs)
    assert message.HasField("expire_time")


@pytest.mark.parametrize(
    ("servicer", "base"),
    [
        (AccountServicer, account_service_pb2_grpc.AccountServiceServicer),
        (TransactionServicer, transaction_service_pb2_grpc.TransactionServiceServicer),
        (LedgerAdminServicer, ledger_admin_service_pb2_grpc.LedgerAdminServiceServicer),
    ],
)
def test_every_rpc_is_implemented(servicer: type, base: type) -> None:
    rpcs = [name for name in vars(base) if name[0].isupper()]
    assert rpcs
    assert [name for name in rpcs if getattr(servicer, name) is getattr(base, name)] == []
