"""Over gRPC: VerifyLedger reports what a database administrator rewrote behind the service.

The attacks run with every trigger off (``session_replication_role = replica``), as only a
superuser or the tables' owner can: the triggers refuse them otherwise (see
tests/integration/test_append_only.py).
"""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
from keel.ledger.v1 import account_service_pb2 as acc
from keel.ledger.v1 import ledger_admin_service_pb2 as adm
from keel.ledger.v1 import resources_pb2 as res

from keel_runtime.db import create_engine
from ledger.app.checkpoints import Checkpointer
from ledger.domain.chain import link
from ledger.domain.checkpoint import Checkpoint, CheckpointKey
from ledger.domain.model import Bucket, Entry, Side
from ledger.events.codec import encode
from ledger.storage.uow import SqlUnitOfWork

from .conftest import Client
from .test_ledger_api import open_account, open_funding, transfer

BOUNDED = res.BALANCE_BOUND_DEBITS_MUST_NOT_EXCEED_CREDITS


def utcnow() -> datetime:
    return datetime.now(UTC)


async def wallet_paying_revenue(client: Client) -> tuple[str, str, str]:
    """A wallet funded with 1000 that paid 150 to a revenue account: balances 850 and 150.
    Returns (wallet id, revenue id, payment transaction id)."""
    wallet = await open_account(client, res.ACCOUNT_KIND_WALLET, BOUNDED)
    funding = await open_funding(client)
    revenue = await open_account(client, res.ACCOUNT_KIND_REVENUE, metadata=client.service)
    await client.transactions.CreateTransaction(
        transfer(funding.account_id, wallet.account_id, 1000, "fund"), metadata=client.service
    )
    paid = await client.transactions.CreateTransaction(
        transfer(wallet.account_id, revenue.account_id, 150, "pay"), metadata=client.md
    )
    return wallet.account_id, revenue.account_id, paid.transaction.transaction_id


async def verify(client: Client) -> adm.VerifyLedgerResponse:
    response: adm.VerifyLedgerResponse = await client.admin.VerifyLedger(
        adm.VerifyLedgerRequest(), metadata=client.service
    )
    return response


def codes(report: adm.VerifyLedgerResponse) -> set[tuple[str, str]]:
    return {(v.code, v.account_id) for v in report.violations}


async def test_a_rewritten_balance_is_reported(client: Client, admin_database_url: str) -> None:
    wallet, revenue, _ = await wallet_paying_revenue(client)
    assert (await verify(client)).ok
    with psycopg.connect(admin_database_url) as conn:
        conn.execute("SET LOCAL session_replication_role = replica")
        for account, credits in ((wallet, 1000 + 90), (revenue, 60)):
            conn.execute(
                "UPDATE balances SET credits_posted = %s WHERE account_id = %s", (credits, account)
            )
    report = await verify(client)
    assert not report.ok
    assert {("BALANCE_MISMATCH", wallet), ("BALANCE_MISMATCH", revenue)} <= codes(report)


async def test_rewritten_postings_are_reported(client: Client, admin_database_url: str) -> None:
    _, _, payment = await wallet_paying_revenue(client)
    with psycopg.connect(admin_database_url) as conn:
        conn.execute("SET LOCAL session_replication_role = replica")
        conn.execute(
            "UPDATE transactions SET postings = jsonb_set(jsonb_set(postings,"
            " '{0,amount}', '60'), '{1,amount}', '60') WHERE id = %s",
            (payment,),
        )
    report = await verify(client)
    assert not report.ok
    assert [v.code for v in report.violations] == ["TRANSACTION_ENTRIES_MISMATCH"]
    assert payment in report.violations[0].detail


def rewrite_payment(admin_database_url: str, payment_id: str, amount: int) -> None:
    """The attack of a database administrator: with the triggers off, change the payment's
    amount in its postings and entries, recompute the sha256 chain of every account it
    touched and their heads, and make the balances add up."""
    with psycopg.connect(admin_database_url) as conn:
        conn.execute("SET LOCAL session_replication_role = replica")
        conn.execute(
            "UPDATE entries SET amount = %s WHERE transaction_id = %s", (amount, payment_id)
        )
        conn.execute(
            "UPDATE transactions SET postings = (SELECT jsonb_agg(jsonb_set(p, '{amount}',"
            " to_jsonb(%s::bigint))) FROM jsonb_array_elements(postings) p) WHERE id = %s",
            (amount, payment_id),
        )
        touched = conn.execute(
            "SELECT DISTINCT account_id::text FROM entries WHERE transaction_id = %s",
            (payment_id,),
        ).fetchall()
        for (account,) in touched:
            head = b""
            for row_id, seq, tx, asset, side, bucket, moved, created_at in conn.execute(
                "SELECT id, account_seq, transaction_id::text, asset_code, side, bucket, amount,"
                " created_at FROM entries WHERE account_id = %s ORDER BY account_seq",
                (account,),
            ).fetchall():
                entry = Entry(account, asset, Side(side), Bucket(bucket), moved)
                head = link(head, seq, tx, entry, created_at)
                conn.execute("UPDATE entries SET hash = %s WHERE id = %s", (head, row_id))
            conn.execute(
                "UPDATE balances SET head_hash = %(head)s,"
                " debits_posted = (SELECT coalesce(sum(amount), 0) FROM entries"
                "   WHERE account_id = %(a)s AND side = 'DEBIT' AND bucket = 'POSTED'),"
                " credits_posted = (SELECT coalesce(sum(amount), 0) FROM entries"
                "   WHERE account_id = %(a)s AND side = 'CREDIT' AND bucket = 'POSTED')"
                " WHERE account_id = %(a)s",
                {"head": head, "a": account},
            )


async def take_checkpoint(admin_database_url: str, key: CheckpointKey) -> Checkpoint | None:
    """One round of the server's periodic checkpoint job, with the server's key."""
    engine = create_engine(admin_database_url, pool_size=1)
    try:
        checkpointer = Checkpointer(lambda: SqlUnitOfWork(engine, encode), utcnow, key)
        return await checkpointer.take()
    finally:
        await engine.dispose()


def checkpointed(admin_database_url: str) -> set[str]:
    """Accounts whose current chain head a checkpoint records (the server's own periodic
    round may have taken it, with the same key: either will do)."""
    with psycopg.connect(admin_database_url) as conn:
        rows = conn.execute(
            "SELECT b.account_id::text FROM balances b JOIN checkpoint_heads h"
            " ON h.account_id = b.account_id AND h.entry_count = b.entry_count"
            " AND h.head_hash = b.head_hash"
        ).fetchall()
    return {account for (account,) in rows}


async def available(client: Client, account_id: str) -> int:
    got = await client.accounts.GetBalance(
        acc.GetBalanceRequest(account_id=account_id), metadata=client.service
    )
    return int(got.balance.available)


async def test_a_recomputed_chain_is_caught_by_the_checkpoint(
    client: Client, admin_database_url: str, checkpoint_key: CheckpointKey
) -> None:
    wallet, revenue, payment = await wallet_paying_revenue(client)
    await take_checkpoint(admin_database_url, checkpoint_key)
    assert checkpointed(admin_database_url) >= {wallet, revenue}
    assert (await verify(client)).ok

    rewrite_payment(admin_database_url, payment, 60)

    # The rewrite holds together on its own: balances 940/60, chains and heads consistent...
    assert (await available(client, wallet), await available(client, revenue)) == (940, 60)
    report = await verify(client)
    # ...but not with the heads the checkpoint MACed under a key the database does not hold.
    assert not report.ok
    assert codes(report) == {("CHECKPOINT_MISMATCH", wallet), ("CHECKPOINT_MISMATCH", revenue)}


async def test_a_forged_checkpoint_is_caught(
    client: Client, admin_database_url: str, checkpoint_key: CheckpointKey
) -> None:
    _, _, payment = await wallet_paying_revenue(client)
    await take_checkpoint(admin_database_url, checkpoint_key)
    rewrite_payment(admin_database_url, payment, 60)
    # The administrator also makes the checkpointed heads match the rewritten chains.
    with psycopg.connect(admin_database_url) as conn:
        conn.execute("SET LOCAL session_replication_role = replica")
        conn.execute(
            "UPDATE checkpoint_heads h SET head_hash = b.head_hash, entry_count = b.entry_count"
            " FROM balances b WHERE b.account_id = h.account_id"
        )
    report = await verify(client)
    assert not report.ok
    assert [v.code for v in report.violations] == ["CHECKPOINT_FORGED"]
    # And the next checkpoint does not vouch for the forged heads.
    assert await take_checkpoint(admin_database_url, checkpoint_key) is None
