"""Over gRPC: a bank workload, and readers that must see the same total in every read."""

from __future__ import annotations

import asyncio
import random
import uuid

import grpc
from keel.ledger.v1 import account_service_pb2 as acc
from keel.ledger.v1 import resources_pb2 as res
from keel.ledger.v1 import transaction_service_pb2 as txs

from .conftest import Client
from .test_ledger_api import open_account, open_funding, transfer

WALLETS = 10
FUNDS = 1_000
WRITERS = 8
TRANSFERS_PER_WRITER = 25


def totals(balances: list[res.Balance]) -> tuple[int, int, int]:
    """Posted net, pending debits and pending credits over all the accounts read."""
    return (
        sum(b.credits_posted - b.debits_posted for b in balances),
        sum(b.debits_pending for b in balances),
        sum(b.credits_pending for b in balances),
    )


async def test_batch_reads_see_a_constant_total_under_concurrent_transfers(
    client: Client,
) -> None:
    # One wallet per organization (the bank's customers); transfers between them and the
    # reads of all of them are an internal service's (members see only their own org).
    wallets = [
        (
            await open_account(
                client,
                res.ACCOUNT_KIND_WALLET,
                res.BALANCE_BOUND_DEBITS_MUST_NOT_EXCEED_CREDITS,
                metadata=client.as_(str(uuid.uuid4())),
            )
        ).account_id
        for _ in range(WALLETS)
    ]
    funding = await open_funding(client)
    for i, wallet in enumerate(wallets):
        await client.transactions.CreateTransaction(
            transfer(funding.account_id, wallet, FUNDS, f"fund-{i}"), metadata=client.service
        )
    total = WALLETS * FUNDS
    read = acc.BatchGetBalancesRequest(account_ids=wallets)

    # Writers and the reader interleave by construction, not by timing: a writer's k-th
    # transfer waits for the reader's k-th read.
    reads = 0
    progress = asyncio.Condition()

    async def writer(n: int) -> tuple[list[str], int]:
        """Transfers and holds (posted, voided or left open) between random wallets; some are
        refused. The transactions made, and the amount still held at the end."""
        rng = random.Random(n)
        created: list[str] = []
        held = 0
        for k in range(TRANSFERS_PER_WRITER):
            async with progress:
                await progress.wait_for(lambda: reads >= k)  # noqa: B023 (k of this turn)
            source, dest = rng.sample(wallets, 2)
            amount = rng.randint(1, 300)
            pending = txs.PendingOptions() if k % 3 == 0 else None
            request = transfer(source, dest, amount, f"w{n}-{k}", pending=pending)
            try:
                tx = (
                    await client.transactions.CreateTransaction(request, metadata=client.service)
                ).transaction
            except grpc.aio.AioRpcError as exc:
                assert exc.code() == grpc.StatusCode.FAILED_PRECONDITION, exc.details()
                continue
            created.append(tx.transaction_id)
            if pending is not None and k % 9 == 0:
                await client.transactions.PostPendingTransaction(
                    txs.PostPendingTransactionRequest(
                        transaction_id=tx.transaction_id, request_id=f"w{n}-{k}-post"
                    ),
                    metadata=client.service,
                )
            elif pending is not None and k % 9 == 3:
                await client.transactions.VoidPendingTransaction(
                    txs.VoidPendingTransactionRequest(
                        transaction_id=tx.transaction_id, request_id=f"w{n}-{k}-void"
                    ),
                    metadata=client.service,
                )
            elif pending is not None:
                held += amount
        return created, held

    async def read_all() -> tuple[int, int, int]:
        got = await client.accounts.BatchGetBalances(read, metadata=client.service)
        assert [b.account_id for b in got.balances] == wallets
        return totals(list(got.balances))

    seen: list[tuple[int, int, int]] = []
    writing = asyncio.gather(*(writer(n) for n in range(WRITERS)))
    try:
        while not writing.done():
            seen.append(await read_all())
            async with progress:
                reads += 1
                progress.notify_all()
    finally:
        if not writing.done():  # the reader failed: stop the writers before the server goes
            writing.cancel()
            await asyncio.gather(writing, return_exceptions=True)
    outcomes = await writing
    created = [tx for batch, _ in outcomes for tx in batch]
    still_held = sum(held for _, held in outcomes)

    assert created, "no transfer went through"
    assert len(seen) >= TRANSFERS_PER_WRITER
    assert {posted for posted, _, _ in seen} == {total}
    assert all(debits == credits for _, debits, credits in seen), seen
    assert await read_all() == (total, still_held, still_held)

    # The same at any past instant: as of each transaction's time, the total is unchanged.
    for transaction_id in created[:: max(1, len(created) // 10)]:
        tx = await client.transactions.GetTransaction(
            txs.GetTransactionRequest(transaction_id=transaction_id), metadata=client.service
        )
        past = acc.BatchGetBalancesRequest(account_ids=wallets)
        past.as_of_time.CopyFrom(tx.transaction.create_time)
        balances = (await client.accounts.BatchGetBalances(past, metadata=client.service)).balances
        posted, debits, credits = totals(list(balances))
        assert (posted, debits) == (total, credits)
