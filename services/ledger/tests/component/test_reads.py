"""Over gRPC: balances now and at a point in time, and the reads every write answers with."""

from __future__ import annotations

import uuid

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from keel.ledger.v1 import account_service_pb2 as acc
from keel.ledger.v1 import resources_pb2 as res
from keel.ledger.v1 import transaction_service_pb2 as txs

from .conftest import Client
from .test_ledger_api import bad_request, error_info, open_account, open_funding, transfer

BOUNDED = res.BALANCE_BOUND_DEBITS_MUST_NOT_EXCEED_CREDITS
D, C = res.POSTING_SIDE_DEBIT, res.POSTING_SIDE_CREDIT


def before(ts: Timestamp) -> Timestamp:
    """One microsecond earlier (the ledger records microseconds)."""
    earlier = Timestamp()
    earlier.FromMicroseconds(ts.ToMicroseconds() - 1)
    return earlier


async def balance_at(client: Client, account_id: str, as_of: Timestamp | None) -> res.Balance:
    request = acc.GetBalanceRequest(account_id=account_id)
    if as_of is not None:
        request.as_of_time.CopyFrom(as_of)
    return (await client.accounts.GetBalance(request, metadata=client.md)).balance


async def test_balance_as_of_a_point_in_time(client: Client) -> None:
    wallet = await open_account(client, res.ACCOUNT_KIND_WALLET, BOUNDED)
    funding = await open_funding(client)
    first = (
        await client.transactions.CreateTransaction(
            transfer(funding.account_id, wallet.account_id, 100, "f1"), metadata=client.service
        )
    ).transaction
    hold = (
        await client.transactions.CreateTransaction(
            transfer(wallet.account_id, funding.account_id, 30, "h1", pending=txs.PendingOptions()),
            metadata=client.md,
        )
    ).transaction
    await client.transactions.CreateTransaction(
        transfer(funding.account_id, wallet.account_id, 50, "f2"), metadata=client.service
    )

    empty = await balance_at(client, wallet.account_id, before(first.create_time))
    assert (empty.credits_posted, empty.available) == (0, 0)
    at_first = await balance_at(client, wallet.account_id, first.create_time)
    assert (at_first.credits_posted, at_first.debits_pending, at_first.available) == (100, 0, 100)
    assert at_first.as_of_time == first.create_time
    at_hold = await balance_at(client, wallet.account_id, hold.create_time)
    assert (at_hold.credits_posted, at_hold.debits_pending, at_hold.available) == (100, 30, 70)
    now = await balance_at(client, wallet.account_id, None)
    assert (now.credits_posted, now.debits_pending, now.available) == (150, 30, 120)

    later = Timestamp()
    later.FromSeconds(now.as_of_time.seconds + 3600)
    assert await balance_at(client, wallet.account_id, later) == res.Balance(
        account_id=wallet.account_id,
        asset=wallet.asset,
        credits_posted=150,
        debits_pending=30,
        available=120,
        as_of_time=later,
    )


async def test_void_a_hold_and_read_it_back(client: Client) -> None:
    wallet = await open_account(client, res.ACCOUNT_KIND_WALLET, BOUNDED)
    funding = await open_funding(client)
    await client.transactions.CreateTransaction(
        transfer(funding.account_id, wallet.account_id, 80, "f"), metadata=client.service
    )
    hold = (
        await client.transactions.CreateTransaction(
            transfer(wallet.account_id, funding.account_id, 60, "h", pending=txs.PendingOptions()),
            metadata=client.md,
        )
    ).transaction
    assert (await balance_at(client, wallet.account_id, None)).available == 20

    void = txs.VoidPendingTransactionRequest(
        transaction_id=hold.transaction_id, request_id="v", metadata={"why": "cancelled"}
    )
    voided = await client.transactions.VoidPendingTransaction(void, metadata=client.md)
    assert voided.transaction.kind == res.TRANSACTION_KIND_VOID_PENDING
    assert voided.pending_transaction.state == res.TRANSACTION_STATE_VOIDED
    assert voided.pending_transaction.resolved_by_transaction_id == (
        voided.transaction.transaction_id
    )
    again = await client.transactions.VoidPendingTransaction(void, metadata=client.md)
    assert again.transaction.transaction_id == voided.transaction.transaction_id
    assert (await balance_at(client, wallet.account_id, None)).available == 80

    got = await client.transactions.GetTransaction(
        txs.GetTransactionRequest(transaction_id=hold.transaction_id), metadata=client.md
    )
    assert got.transaction == voided.pending_transaction
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await client.transactions.PostPendingTransaction(
            txs.PostPendingTransactionRequest(transaction_id=hold.transaction_id, request_id="p"),
            metadata=client.md,
        )
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_info(info.value).reason == "TRANSACTION_NOT_PENDING"
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await client.transactions.GetTransaction(
            txs.GetTransactionRequest(transaction_id=hold.transaction_id),
            metadata=client.as_(str(uuid.uuid4())),
        )
    assert info.value.code() == grpc.StatusCode.NOT_FOUND


async def test_batch_is_all_or_nothing(client: Client) -> None:
    wallet = await open_account(client, res.ACCOUNT_KIND_WALLET, BOUNDED)
    funding = await open_funding(client)
    fund = transfer(funding.account_id, wallet.account_id, 40, "b-fund")
    spend = transfer(wallet.account_id, funding.account_id, 40, "b-spend")
    batch = txs.CreateTransactionBatchRequest(requests=[fund, spend])
    done = await client.transactions.CreateTransactionBatch(batch, metadata=client.service)
    assert [t.request_id for t in done.transactions] == ["b-fund", "b-spend"]
    replay = await client.transactions.CreateTransactionBatch(batch, metadata=client.service)
    assert replay.transactions == done.transactions

    # The second leg overdraws: neither transaction is recorded.
    overdraw = txs.CreateTransactionBatchRequest(
        requests=[
            transfer(funding.account_id, wallet.account_id, 10, "b2-fund"),
            transfer(wallet.account_id, funding.account_id, 11, "b2-spend"),
        ]
    )
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await client.transactions.CreateTransactionBatch(overdraw, metadata=client.service)
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_info(info.value).reason == "INSUFFICIENT_FUNDS"
    assert (await balance_at(client, wallet.account_id, None)).credits_posted == 40
    history = await client.transactions.ListTransactions(
        txs.ListTransactionsRequest(account_id=wallet.account_id), metadata=client.md
    )
    assert [t.request_id for t in history.transactions] == ["b-spend", "b-fund"]


async def balances_of(
    client: Client, account_ids: list[str], as_of: Timestamp | None = None
) -> list[res.Balance]:
    request = acc.BatchGetBalancesRequest(account_ids=account_ids)
    if as_of is not None:
        request.as_of_time.CopyFrom(as_of)
    return list((await client.accounts.BatchGetBalances(request, metadata=client.md)).balances)


async def test_batch_get_balances_now_and_as_of(client: Client) -> None:
    wallet = await open_account(client, res.ACCOUNT_KIND_WALLET, BOUNDED)
    funding = await open_funding(client)
    first = (
        await client.transactions.CreateTransaction(
            transfer(funding.account_id, wallet.account_id, 70, "f1"), metadata=client.service
        )
    ).transaction
    await client.transactions.CreateTransaction(
        transfer(funding.account_id, wallet.account_id, 5, "f2"), metadata=client.service
    )
    ids = [wallet.account_id, funding.account_id]
    now = await balances_of(client, ids)
    assert [(b.account_id, b.credits_posted, b.debits_posted) for b in now] == [
        (wallet.account_id, 75, 0),
        (funding.account_id, 0, 75),
    ]
    assert now[0] == await balance_at(client, wallet.account_id, now[0].as_of_time)
    then = await balances_of(client, ids[::-1], first.create_time)
    assert [(b.account_id, b.credits_posted, b.debits_posted) for b in then] == [
        (funding.account_id, 0, 70),
        (wallet.account_id, 70, 0),
    ]
    assert {b.as_of_time.ToMicroseconds() for b in then} == {first.create_time.ToMicroseconds()}

    stranger = client.as_(str(uuid.uuid4()))
    for who, account_ids in [
        (client.md, [wallet.account_id, str(uuid.uuid4())]),
        (stranger, [wallet.account_id]),
    ]:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await client.accounts.BatchGetBalances(
                acc.BatchGetBalancesRequest(account_ids=account_ids), metadata=who
            )
        assert info.value.code() == grpc.StatusCode.NOT_FOUND
        assert error_info(info.value).reason == "ACCOUNT_NOT_FOUND"
    for bad in ([], [wallet.account_id, wallet.account_id], ["nope"]):
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await client.accounts.BatchGetBalances(
                acc.BatchGetBalancesRequest(account_ids=bad), metadata=client.md
            )
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_account_entries_with_running_balance(client: Client) -> None:
    wallet = await open_account(client, res.ACCOUNT_KIND_WALLET, BOUNDED)
    funding = await open_funding(client)
    fund = (
        await client.transactions.CreateTransaction(
            transfer(funding.account_id, wallet.account_id, 100, "f"), metadata=client.service
        )
    ).transaction
    hold = (
        await client.transactions.CreateTransaction(
            transfer(wallet.account_id, funding.account_id, 30, "h", pending=txs.PendingOptions()),
            metadata=client.md,
        )
    ).transaction
    post = (
        await client.transactions.PostPendingTransaction(
            txs.PostPendingTransactionRequest(
                transaction_id=hold.transaction_id, request_id="p", amount=20
            ),
            metadata=client.md,
        )
    ).transaction

    page = await client.accounts.ListAccountEntries(
        acc.ListAccountEntriesRequest(account_id=wallet.account_id, page_size=3),
        metadata=client.md,
    )
    assert page.next_page_token
    rest = await client.accounts.ListAccountEntries(
        acc.ListAccountEntriesRequest(
            account_id=wallet.account_id, page_size=3, page_token=page.next_page_token
        ),
        metadata=client.md,
    )
    assert not rest.next_page_token
    entries = [*page.entries, *rest.entries]
    P, H = res.ENTRY_BUCKET_POSTED, res.ENTRY_BUCKET_PENDING
    assert [
        (e.sequence, e.transaction_id, e.side, e.bucket, e.amount, e.balance.available)
        for e in entries
    ] == [
        (1, fund.transaction_id, C, P, 100, 100),
        (2, hold.transaction_id, D, H, 30, 70),
        (3, post.transaction_id, D, H, -30, 100),  # the hold is released ...
        (4, post.transaction_id, D, P, 20, 80),  # ... and part of it posted
    ]
    assert all(e.create_time == e.balance.as_of_time for e in entries)
    last = entries[-1].balance
    now = await balance_at(client, wallet.account_id, None)
    assert (last.debits_posted, last.credits_posted, last.debits_pending, last.available) == (
        now.debits_posted,
        now.credits_posted,
        now.debits_pending,
        now.available,
    )

    with pytest.raises(grpc.aio.AioRpcError) as info:
        await client.accounts.ListAccountEntries(
            acc.ListAccountEntriesRequest(account_id=wallet.account_id),
            metadata=client.as_(str(uuid.uuid4())),
        )
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await client.accounts.ListAccountEntries(
            acc.ListAccountEntriesRequest(
                account_id=funding.account_id, page_token=page.next_page_token
            ),
            metadata=client.md,
        )
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_info(info.value).reason == "INVALID_PAGE_TOKEN"


@pytest.mark.parametrize(
    "as_of",
    [Timestamp(seconds=10**12), Timestamp(seconds=-(10**12)), Timestamp(seconds=0, nanos=-5)],
    ids=["after year 9999", "before year 1", "negative nanos"],
)
async def test_a_time_outside_the_timestamp_range_is_invalid_argument(
    client: Client, as_of: Timestamp
) -> None:
    """A peer on the internal network is not held to the gateway's RFC 3339 parsing: any
    seconds and nanos reach the service, which names the field instead of failing inside."""
    wallet = await open_account(client, res.ACCOUNT_KIND_WALLET, BOUNDED)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await balance_at(client, wallet.account_id, as_of)
    assert refused.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert error_info(refused.value).reason == "VALIDATION_FAILED"
    assert [v.field for v in bad_request(refused.value).field_violations] == ["as_of_time"]
