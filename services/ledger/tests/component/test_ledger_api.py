"""The ledger's gRPC surface end to end: accounts, balances, transfers, errors, audit."""

from __future__ import annotations

import uuid

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status
from keel.ledger.v1 import account_service_pb2 as acc
from keel.ledger.v1 import ledger_admin_service_pb2 as adm
from keel.ledger.v1 import resources_pb2 as res
from keel.ledger.v1 import transaction_service_pb2 as txs
from keel.type.v1 import asset_pb2

from .conftest import Client

D, C = res.POSTING_SIDE_DEBIT, res.POSTING_SIDE_CREDIT


def error_info(exc: grpc.aio.AioRpcError) -> error_details_pb2.ErrorInfo:
    status: status_pb2.Status | None = rpc_status.from_call(exc)  # type: ignore[arg-type]
    assert status is not None
    for detail in status.details:
        info = error_details_pb2.ErrorInfo()
        if detail.Unpack(info):
            return info
    raise AssertionError("no ErrorInfo in the status")


def bad_request(exc: grpc.aio.AioRpcError) -> error_details_pb2.BadRequest:
    status: status_pb2.Status | None = rpc_status.from_call(exc)  # type: ignore[arg-type]
    assert status is not None
    for detail in status.details:
        found = error_details_pb2.BadRequest()
        if detail.Unpack(found):
            return found
    raise AssertionError("no BadRequest in the status")


async def open_account(
    client: Client,
    kind: int,
    bound: int = 0,
    metadata: list[tuple[str, str]] | None = None,
    **kw: object,
) -> res.Account:
    """Open an account as the org's OWNER, or as whoever ``metadata`` names."""
    response = await client.accounts.CreateAccount(
        acc.CreateAccountRequest(
            kind=kind,
            asset=asset_pb2.Asset(code="USD", scale=2),
            balance_bound=bound,
            **kw,  # type: ignore[arg-type]
        ),
        metadata=metadata or client.md,
    )
    return response.account


async def open_funding(client: Client) -> res.Account:
    """A FUNDING account in the org, opened by an internal service (members cannot)."""
    return await open_account(client, res.ACCOUNT_KIND_FUNDING, metadata=client.service)


def transfer(
    source: str, dest: str, amount: int, rid: str, **kw: object
) -> txs.CreateTransactionRequest:
    return txs.CreateTransactionRequest(
        request_id=rid,
        postings=[
            res.Posting(account_id=source, side=D, amount=amount, asset_code="USD"),
            res.Posting(account_id=dest, side=C, amount=amount, asset_code="USD"),
        ],
        **kw,  # type: ignore[arg-type]
    )


async def test_accounts_are_scoped_to_the_callers_org(client: Client) -> None:
    wallet = await open_account(
        client, res.ACCOUNT_KIND_WALLET, res.BALANCE_BOUND_DEBITS_MUST_NOT_EXCEED_CREDITS
    )
    got = await client.accounts.GetAccount(
        acc.GetAccountRequest(account_id=wallet.account_id), metadata=client.md
    )
    assert got.account == wallet and wallet.organization_id == client.org_id
    listed = await client.accounts.ListAccounts(
        acc.ListAccountsRequest(kind=res.ACCOUNT_KIND_WALLET), metadata=client.md
    )
    assert [a.account_id for a in listed.accounts] == [wallet.account_id]
    balance = await client.accounts.GetBalance(
        acc.GetBalanceRequest(account_id=wallet.account_id), metadata=client.md
    )
    assert balance.balance.available == 0 and balance.balance.asset.code == "USD"

    stranger = client.as_(str(uuid.uuid4()))
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await client.accounts.GetAccount(
            acc.GetAccountRequest(account_id=wallet.account_id), metadata=stranger
        )
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
    assert error_info(info.value).reason == "ACCOUNT_NOT_FOUND"
    assert (
        await client.accounts.ListAccounts(acc.ListAccountsRequest(), metadata=stranger)
    ).accounts == []


async def test_transfer_bounds_and_idempotency(client: Client) -> None:
    wallet = await open_account(
        client, res.ACCOUNT_KIND_WALLET, res.BALANCE_BOUND_DEBITS_MUST_NOT_EXCEED_CREDITS
    )
    funding = await open_funding(client)
    fund = transfer(funding.account_id, wallet.account_id, 500, "fund-1")
    first = await client.transactions.CreateTransaction(fund, metadata=client.service)
    again = await client.transactions.CreateTransaction(fund, metadata=client.service)
    assert again.transaction.transaction_id == first.transaction.transaction_id

    with pytest.raises(grpc.aio.AioRpcError) as info:
        await client.transactions.CreateTransaction(
            transfer(funding.account_id, wallet.account_id, 501, "fund-1"),
            metadata=client.service,
        )
    assert info.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert error_info(info.value).reason == "REQUEST_ID_REUSED"

    with pytest.raises(grpc.aio.AioRpcError) as info:
        await client.transactions.CreateTransaction(
            transfer(wallet.account_id, funding.account_id, 501, "spend"), metadata=client.md
        )
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_info(info.value).reason == "INSUFFICIENT_FUNDS"

    unbalanced = transfer(wallet.account_id, funding.account_id, 5, "bad")
    unbalanced.postings[1].amount = 4
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await client.transactions.CreateTransaction(unbalanced, metadata=client.md)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_info(info.value).reason == "UNBALANCED_TRANSACTION"

    balance = await client.accounts.GetBalance(
        acc.GetBalanceRequest(account_id=wallet.account_id), metadata=client.md
    )
    assert (balance.balance.credits_posted, balance.balance.available) == (500, 500)


async def test_hold_post_reverse_and_history(client: Client) -> None:
    wallet = await open_account(
        client, res.ACCOUNT_KIND_WALLET, res.BALANCE_BOUND_DEBITS_MUST_NOT_EXCEED_CREDITS
    )
    funding = await open_funding(client)
    await client.transactions.CreateTransaction(
        transfer(funding.account_id, wallet.account_id, 100, "f"), metadata=client.service
    )
    hold = (
        await client.transactions.CreateTransaction(
            transfer(
                wallet.account_id,
                funding.account_id,
                70,
                "h",
                pending=txs.PendingOptions(ttl={"seconds": 60}),
            ),
            metadata=client.md,
        )
    ).transaction
    assert hold.state == res.TRANSACTION_STATE_PENDING and hold.HasField("expire_time")
    posted = await client.transactions.PostPendingTransaction(
        txs.PostPendingTransactionRequest(
            transaction_id=hold.transaction_id, request_id="p", amount=40
        ),
        metadata=client.md,
    )
    assert posted.pending_transaction.state == res.TRANSACTION_STATE_POSTED
    # The reversal debits the funding account: a refund is the platform's act, not a member's.
    reversed_ = await client.transactions.ReverseTransaction(
        txs.ReverseTransactionRequest(
            transaction_id=posted.transaction.transaction_id, request_id="r"
        ),
        metadata=client.service,
    )
    assert reversed_.transaction.kind == res.TRANSACTION_KIND_REVERSAL
    history = await client.transactions.ListTransactions(
        txs.ListTransactionsRequest(account_id=wallet.account_id, page_size=2), metadata=client.md
    )
    assert len(history.transactions) == 2 and history.next_page_token
    rest = await client.transactions.ListTransactions(
        txs.ListTransactionsRequest(
            account_id=wallet.account_id, page_size=2, page_token=history.next_page_token
        ),
        metadata=client.md,
    )
    assert len(rest.transactions) == 2 and not rest.next_page_token
    balance = (
        await client.accounts.GetBalance(
            acc.GetBalanceRequest(account_id=wallet.account_id), metadata=client.md
        )
    ).balance
    assert (
        balance.debits_posted,
        balance.credits_posted,
        balance.debits_pending,
        balance.available,
    ) == (40, 140, 0, 100)

    with pytest.raises(grpc.aio.AioRpcError) as info:
        await client.admin.VerifyLedger(adm.VerifyLedgerRequest(), metadata=client.md)
    assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
    report = await client.admin.VerifyLedger(adm.VerifyLedgerRequest(), metadata=client.service)
    assert report.ok and report.entries_checked == 10


async def test_contract_validation_and_auth(client: Client) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await client.accounts.GetAccount(
            acc.GetAccountRequest(account_id="nope"), metadata=client.md
        )
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await client.accounts.GetAccount(acc.GetAccountRequest(account_id=str(uuid.uuid4())))
    assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await client.accounts.CreateAccount(
            acc.CreateAccountRequest(
                kind=res.ACCOUNT_KIND_REVENUE, asset=asset_pb2.Asset(code="USD", scale=2)
            ),
            metadata=client.as_(client.org_id, roles=("MEMBER",)),
        )
    assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_api_key_scopes(client: Client) -> None:
    wallet = await open_account(
        client, res.ACCOUNT_KIND_WALLET, res.BALANCE_BOUND_DEBITS_MUST_NOT_EXCEED_CREDITS
    )
    funding = await open_funding(client)
    await client.transactions.CreateTransaction(
        transfer(funding.account_id, wallet.account_id, 1, "fund"), metadata=client.service
    )
    reader = client.as_(client.org_id, roles=(), kind="api_key", scope="ledger:read")
    got = await client.accounts.GetAccount(
        acc.GetAccountRequest(account_id=wallet.account_id), metadata=reader
    )
    assert got.account.account_id == wallet.account_id
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await client.transactions.CreateTransaction(
            transfer(wallet.account_id, funding.account_id, 1, "k"), metadata=reader
        )
    assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
    writer = client.as_(client.org_id, roles=(), kind="api_key", scope="ledger:read ledger:write")
    done = await client.transactions.CreateTransaction(
        transfer(wallet.account_id, funding.account_id, 1, "k"), metadata=writer
    )
    assert done.transaction.state == res.TRANSACTION_STATE_POSTED


async def test_same_account_on_both_sides_is_refused(client: Client) -> None:
    """A wallet with nothing on it cannot move 999,999 to itself, by any create path."""
    wallet = await open_account(
        client, res.ACCOUNT_KIND_WALLET, res.BALANCE_BOUND_DEBITS_MUST_NOT_EXCEED_CREDITS
    )
    funding = await open_funding(client)
    itself = transfer(wallet.account_id, wallet.account_id, 999_999, "self")
    held = transfer(
        wallet.account_id, wallet.account_id, 999_999, "self-hold", pending=txs.PendingOptions()
    )
    calls = [
        client.transactions.CreateTransaction(itself, metadata=client.md),
        client.transactions.CreateTransaction(itself, metadata=client.service),
        client.transactions.CreateTransaction(held, metadata=client.md),
        client.transactions.CreateTransactionBatch(
            txs.CreateTransactionBatchRequest(
                requests=[transfer(funding.account_id, wallet.account_id, 5, "ok"), itself]
            ),
            metadata=client.service,
        ),
    ]
    for call in calls:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await call
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        found = error_info(info.value)
        assert (found.reason, found.metadata["account_id"]) == (
            "ACCOUNTS_MUST_BE_DIFFERENT",
            wallet.account_id,
        )
    history = await client.transactions.ListTransactions(
        txs.ListTransactionsRequest(account_id=wallet.account_id), metadata=client.md
    )
    assert list(history.transactions) == []
