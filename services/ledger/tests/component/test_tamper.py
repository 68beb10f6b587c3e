"""Over gRPC: VerifyLedger reports what a database administrator rewrote behind the service.

The attacks run with every trigger off (``session_replication_role = replica``), as only a
superuser or the tables' owner can: the triggers refuse them otherwise (see
tests/integration/test_append_only.py).
"""

from __future__ import annotations

import psycopg
from keel.ledger.v1 import ledger_admin_service_pb2 as adm
from keel.ledger.v1 import resources_pb2 as res

from .conftest import Client
from .test_ledger_api import open_account, open_funding, transfer

BOUNDED = res.BALANCE_BOUND_DEBITS_MUST_NOT_EXCEED_CREDITS


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


async def test_a_rewritten_balance_is_reported(client: Client, database_url: str) -> None:
    wallet, revenue, _ = await wallet_paying_revenue(client)
    assert (await verify(client)).ok
    with psycopg.connect(database_url) as conn:
        conn.execute("SET LOCAL session_replication_role = replica")
        for account, credits in ((wallet, 1000 + 90), (revenue, 60)):
            conn.execute(
                "UPDATE balances SET credits_posted = %s WHERE account_id = %s", (credits, account)
            )
    report = await verify(client)
    assert not report.ok
    assert {("BALANCE_MISMATCH", wallet), ("BALANCE_MISMATCH", revenue)} <= codes(report)


async def test_rewritten_postings_are_reported(client: Client, database_url: str) -> None:
    _, _, payment = await wallet_paying_revenue(client)
    with psycopg.connect(database_url) as conn:
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
