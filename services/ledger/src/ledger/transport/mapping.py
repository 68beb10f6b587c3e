"""Request messages -> commands; the caller from the request's principal."""

from __future__ import annotations

from dataclasses import replace

from keel.ledger.v1 import account_service_pb2 as acc
from keel.ledger.v1 import ledger_admin_service_pb2 as adm
from keel.ledger.v1 import transaction_service_pb2 as txs

from keel_runtime.caller import Caller, current_caller
from keel_runtime.timestamps import field_time
from ledger import contract
from ledger.app import commands
from ledger.domain.model import Asset

# Request-id scope of internal callers that act for no organization.
SERVICE_ORG = "00000000-0000-0000-0000-000000000000"


def caller() -> Caller:
    """The caller of this call: a tenant acts for its organization; the platform (the
    operator or a Keel service) may act for any organization, or for none."""
    who = current_caller()
    if not who.is_platform:
        who.require_org()
    elif not who.org_id:
        return replace(who, org_id=SERVICE_ORG)
    return who


def create_account(request: acc.CreateAccountRequest) -> commands.CreateAccount:
    kind = contract.kind_from_proto(request.kind)
    assert kind is not None  # the contract refuses UNSPECIFIED
    return commands.CreateAccount(
        caller=caller(),
        kind=kind,
        asset=Asset(request.asset.code, request.asset.scale),
        bound=contract.bound_from_proto(request.balance_bound),
        overdraft_limit=request.overdraft_limit,
        metadata=dict(request.metadata),
        request_id=request.request_id,
        org_id=request.organization_id,
    )


def get_account(request: acc.GetAccountRequest) -> commands.GetAccount:
    return commands.GetAccount(caller(), request.account_id)


def list_accounts(request: acc.ListAccountsRequest) -> commands.ListAccounts:
    return commands.ListAccounts(
        caller(),
        kind=contract.kind_from_proto(request.kind),
        asset_code=request.asset_code,
        page_size=request.page_size,
        page_token=request.page_token,
        org_id=request.organization_id,
    )


def get_balance(request: acc.GetBalanceRequest) -> commands.GetBalance:
    return commands.GetBalance(caller(), request.account_id, field_time(request, "as_of_time"))


def batch_get_balances(request: acc.BatchGetBalancesRequest) -> commands.BatchGetBalances:
    return commands.BatchGetBalances(
        caller(), tuple(request.account_ids), field_time(request, "as_of_time")
    )


def list_account_entries(request: acc.ListAccountEntriesRequest) -> commands.ListAccountEntries:
    return commands.ListAccountEntries(
        caller(), request.account_id, page_size=request.page_size, page_token=request.page_token
    )


def create_transaction(
    request: txs.CreateTransactionRequest, who: Caller | None = None
) -> commands.CreateTransaction:
    pending = request.HasField("pending")
    expiration = request.pending.WhichOneof("expiration") if pending else None
    return commands.CreateTransaction(
        caller=who or caller(),
        request_id=request.request_id,
        postings=tuple(contract.posting_from_proto(p) for p in request.postings),
        metadata=dict(request.metadata),
        pending=pending,
        expire_at=(
            field_time(request.pending, "expire_time", path="pending.expire_time")
            if expiration == "expire_time"
            else None
        ),
        ttl=request.pending.ttl.ToTimedelta() if expiration == "ttl" else None,
    )


def create_batch(request: txs.CreateTransactionBatchRequest) -> commands.CreateTransactionBatch:
    who = caller()
    return commands.CreateTransactionBatch(
        who, tuple(create_transaction(item, who) for item in request.requests)
    )


def post_pending(request: txs.PostPendingTransactionRequest) -> commands.PostPending:
    return commands.PostPending(
        caller(),
        request.transaction_id,
        request.request_id,
        amount=request.amount,
        metadata=dict(request.metadata),
    )


def void_pending(request: txs.VoidPendingTransactionRequest) -> commands.VoidPending:
    return commands.VoidPending(
        caller(), request.transaction_id, request.request_id, metadata=dict(request.metadata)
    )


def reverse(request: txs.ReverseTransactionRequest) -> commands.ReverseTransaction:
    return commands.ReverseTransaction(
        caller(), request.transaction_id, request.request_id, metadata=dict(request.metadata)
    )


def get_transaction(request: txs.GetTransactionRequest) -> commands.GetTransaction:
    return commands.GetTransaction(caller(), request.transaction_id)


def list_transactions(request: txs.ListTransactionsRequest) -> commands.ListTransactions:
    return commands.ListTransactions(
        caller(),
        request.account_id,
        start=field_time(request, "start_time"),
        end=field_time(request, "end_time"),
        page_size=request.page_size,
        page_token=request.page_token,
    )


def verify(request: adm.VerifyLedgerRequest) -> commands.VerifyLedger:
    # It reads every organization's accounts: a platform power (the server chain refuses
    # tenants first, from the contract; this keeps the rule beside the mapping).
    current_caller().require_platform()
    return commands.VerifyLedger(request.asset_code)
