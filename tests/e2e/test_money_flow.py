"""Flow 3: an operator funds a wallet, billing closes a period and pays the invoice once."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from e2e_support import (
    Json,
    Tenant,
    assert_status_error,
    count_rows,
    get_json,
    outbox_events,
    post_json,
    service_channel,
    service_metadata,
    wait_for,
    wait_subscription,
    wait_wallet,
)
from keel.billing.v1 import events_pb2 as billing_events_pb2
from keel.ledger.v1 import (
    account_service_pb2,
    account_service_pb2_grpc,
    resources_pb2,
    transaction_service_pb2,
    transaction_service_pb2_grpc,
)
from keel.type.v1 import asset_pb2

from keel_devstack.stack import Endpoints

pytestmark = pytest.mark.e2e

METRIC = "items.confirmed"
# Operators act as an internal service over gRPC; their funding accounts live in the
# platform's organization (the nil UUID, where billing keeps its revenue accounts too).
PLATFORM_ORG_ID = "00000000-0000-0000-0000-000000000000"
PAYMENT_FAILED = "billing.invoice.payment_failed"
PAID = "billing.invoice.paid"


def _fund(mesh: Endpoints, wallet: Json, amount: int) -> str:
    """Move `amount` minor units into the wallet from a fresh operator funding account."""
    asset = asset_pb2.Asset(code=wallet["asset"]["code"], scale=wallet["asset"]["scale"])
    metadata = service_metadata()
    with service_channel(mesh, "ledger") as channel:
        accounts = account_service_pb2_grpc.AccountServiceStub(channel)
        funding = accounts.CreateAccount(
            account_service_pb2.CreateAccountRequest(
                request_id=f"e2e-funding-{uuid.uuid4()}",
                organization_id=PLATFORM_ORG_ID,
                kind=resources_pb2.ACCOUNT_KIND_FUNDING,
                asset=asset,
                balance_bound=resources_pb2.BALANCE_BOUND_NONE,
            ),
            metadata=metadata,
            timeout=5,
        ).account
        transactions = transaction_service_pb2_grpc.TransactionServiceStub(channel)
        posted = transactions.CreateTransaction(
            transaction_service_pb2.CreateTransactionRequest(
                request_id=f"e2e-fund-{uuid.uuid4()}",
                postings=[
                    resources_pb2.Posting(
                        account_id=funding.account_id,
                        side=resources_pb2.POSTING_SIDE_DEBIT,
                        amount=amount,
                        asset_code=asset.code,
                    ),
                    resources_pb2.Posting(
                        account_id=wallet["accountId"],
                        side=resources_pb2.POSTING_SIDE_CREDIT,
                        amount=amount,
                        asset_code=asset.code,
                    ),
                ],
                metadata={"purpose": "e2e wallet funding"},
            ),
            metadata=metadata,
            timeout=5,
        ).transaction
    assert posted.state == resources_pb2.TRANSACTION_STATE_POSTED, posted
    return str(posted.transaction_id)


def _available(gateway: httpx.Client, tenant: Tenant, wallet: Json) -> int:
    balance = get_json(gateway, f"/v1/accounts/{wallet['accountId']}/balance", tenant)["balance"]
    return int(balance.get("available", 0))


def _usage_price(gateway: httpx.Client, tenant: Tenant, plan_id: str) -> tuple[int, int]:
    """(included quantity, unit price) of the plan's per-unit price of `items.confirmed`."""
    plan = get_json(gateway, f"/v1/plans/{plan_id}", tenant)["plan"]
    (price,) = [p for p in plan["prices"] if p.get("metric") == METRIC]
    assert "perUnit" in price, f"the default plan no longer prices {METRIC} per unit: {price}"
    assert not [p for p in plan["prices"] if p is not price], plan  # no flat fee to add
    return int(price.get("includedQuantity", 0)), int(price["perUnit"]["unitAmount"])


def _record(gateway: httpx.Client, tenant: Tenant, quantity: int, key: str) -> Json:
    usage = {"metric": METRIC, "quantity": str(quantity), "dedupKey": key}
    body: Json = post_json(gateway, "/v1/usage:record", tenant, {"usage": usage})
    return body


def _close_period(gateway: httpx.Client, tenant: Tenant, subscription: Json) -> Json:
    path = f"/v1/subscriptions/{subscription['subscriptionId']}:closeBillingPeriod"
    invoice: Json = post_json(gateway, path, tenant, {"requestId": str(uuid.uuid4())})["invoice"]
    assert invoice["state"] == "INVOICE_STATE_OPEN", invoice
    assert invoice["subscriptionId"] == subscription["subscriptionId"]
    return invoice


def _pay(gateway: httpx.Client, tenant: Tenant, invoice: Json) -> httpx.Response:
    return gateway.post(f"/v1/invoices/{invoice['invoiceId']}:pay", json={}, headers=tenant.auth)


def _pay_alone(gateway_url: str, tenant: Tenant, invoice: Json) -> httpx.Response:
    """A payment on its own connection, so that two can be in flight at once."""
    with httpx.Client(base_url=gateway_url, timeout=10.0) as client:
        return _pay(client, tenant, invoice)


def _invoice(gateway: httpx.Client, tenant: Tenant, invoice: Json) -> Json:
    found: Json = get_json(gateway, f"/v1/invoices/{invoice['invoiceId']}", tenant)["invoice"]
    return found


def _payments(mesh: Endpoints, invoice: Json) -> int:
    """Ledger transactions made for this invoice, in any organization's scope."""
    return count_rows(
        mesh.databases["ledger"],
        "SELECT count(*) FROM transactions WHERE request_id = %s",
        f"invoice:{invoice['invoiceId']}",
    )


def _paid_events(mesh: Endpoints, invoice: Json) -> list[billing_events_pb2.InvoicePaid]:
    """billing.invoice.paid events for this invoice in billing's outbox, published or not."""
    found = []
    for event in outbox_events(mesh.databases["billing"], PAID, published=False):
        payload = billing_events_pb2.InvoicePaid()
        assert event.envelope.payload.Unpack(payload), event.envelope
        if payload.invoice_id == invoice["invoiceId"]:
            found.append(payload)
    return found


def _wallet_history(gateway: httpx.Client, tenant: Tenant, wallet: Json) -> list[Json]:
    path = f"/v1/accounts/{wallet['accountId']}/transactions"
    history: list[Json] = get_json(gateway, path, tenant).get("transactions", [])
    return history


def test_invoice_is_paid_from_the_funded_wallet_exactly_once(
    gateway: httpx.Client, tenant: Tenant, mesh: Endpoints
) -> None:
    wallet = wait_wallet(gateway, tenant)
    subscription = wait_subscription(gateway, tenant)
    included, unit = _usage_price(gateway, tenant, subscription["planId"])
    assert (included, unit) == (100, 5), "the default plan: 100 items included, then 5 cents"

    funding_id = _fund(mesh, wallet, 1_000)
    assert _available(gateway, tenant, wallet) == 1_000

    # 100 + 20 + 10 units; the repeated key is reported again and must not count.
    assert _record(gateway, tenant, 100, "e2e-batch-1")["duplicate"] is not True
    assert _record(gateway, tenant, 20, "e2e-batch-2")["duplicate"] is not True
    assert _record(gateway, tenant, 10, "e2e-batch-3")["duplicate"] is not True
    assert _record(gateway, tenant, 10, "e2e-batch-3")["duplicate"] is True

    invoice = _close_period(gateway, tenant, subscription)
    expected = (130 - included) * unit
    assert expected == 150
    # REST names of keel.type.v1.Money: the asset (code and scale) beside a plain amount.
    assert invoice["total"]["asset"] == {"code": "USD", "scale": 2}, invoice
    assert int(invoice["total"]["amount"]) == expected, invoice
    # The period closed: the subscription's next one starts where the invoice's ended.
    current = get_json(gateway, f"/v1/subscriptions/{subscription['subscriptionId']}", tenant)
    assert current["subscription"]["currentPeriodStart"] == invoice["periodEnd"], current
    (line,) = invoice["lines"]
    assert line["metric"] == METRIC, line
    assert (int(line["quantity"]), int(line["amount"])) == (130, expected), line

    paid_response = _pay(gateway, tenant, invoice)
    assert paid_response.status_code == 200, paid_response.text
    paid = paid_response.json()["invoice"]
    assert paid["state"] == "INVOICE_STATE_PAID", paid
    assert paid["paymentTransactionId"], paid
    assert _available(gateway, tenant, wallet) == 1_000 - expected

    # Paying again answers the same paid invoice and moves no money.
    again = _pay(gateway, tenant, invoice)
    assert again.status_code == 200, again.text
    assert again.json()["invoice"] == paid
    assert _invoice(gateway, tenant, invoice) == paid
    assert _available(gateway, tenant, wallet) == 1_000 - expected
    assert _payments(mesh, invoice) == 1
    (event,) = _paid_events(mesh, invoice)
    assert (event.transaction_id, event.amount.amount) == (
        paid["paymentTransactionId"],
        expected,
    ), event
    payment = get_json(gateway, f"/v1/transactions/{paid['paymentTransactionId']}", tenant)
    legs = {
        (p["accountId"], p["side"], int(p["amount"]), p["assetCode"])
        for p in payment["transaction"]["postings"]
    }
    assert (wallet["accountId"], "POSTING_SIDE_DEBIT", expected, "USD") in legs, payment
    assert payment["transaction"]["requestId"] == f"invoice:{invoice['invoiceId']}", payment
    history = _wallet_history(gateway, tenant, wallet)
    assert sorted(t["transactionId"] for t in history) == sorted(
        [funding_id, paid["paymentTransactionId"]]
    ), history


def test_payment_fails_on_an_empty_wallet_and_succeeds_once_funded(
    gateway: httpx.Client, gateway_url: str, tenant: Tenant, mesh: Endpoints
) -> None:
    # This test's organization (not the one above): its wallet is not funded up front.
    wallet = wait_wallet(gateway, tenant)
    subscription = wait_subscription(gateway, tenant)
    included, unit = _usage_price(gateway, tenant, subscription["planId"])
    _record(gateway, tenant, included + 20, "e2e-usage-1")
    invoice = _close_period(gateway, tenant, subscription)
    expected = 20 * unit
    assert int(invoice["total"]["amount"]) == expected == 100, invoice

    declined = _pay(gateway, tenant, invoice)
    assert_status_error(declined, http_status=400, code=9, reason="INSUFFICIENT_FUNDS")
    still_open = _invoice(gateway, tenant, invoice)
    assert still_open["state"] == "INVOICE_STATE_OPEN", still_open
    assert still_open.get("paymentAttempts") == 1, still_open
    assert still_open.get("lastPaymentError") == "INSUFFICIENT_FUNDS", still_open
    assert not still_open.get("paymentTransactionId"), still_open
    assert _available(gateway, tenant, wallet) == 0
    assert _payments(mesh, invoice) == 0

    def failure_published() -> list[billing_events_pb2.InvoicePaymentFailed] | None:
        found = []
        for event in outbox_events(mesh.databases["billing"], PAYMENT_FAILED):
            payload = billing_events_pb2.InvoicePaymentFailed()
            assert event.envelope.payload.Unpack(payload), event.envelope
            if event.envelope.org_id == tenant.org_id:
                found.append(payload)
        return found or None

    (failed,) = wait_for(failure_published, f"billing publishing {PAYMENT_FAILED}")
    assert failed.invoice_id == invoice["invoiceId"], failed
    assert (failed.reason, failed.attempt) == ("INSUFFICIENT_FUNDS", 1), failed
    assert (failed.amount.asset.code, failed.amount.amount) == ("USD", expected), failed

    _fund(mesh, wallet, expected)
    # Two payments racing (a client retrying early) still charge once.
    with ThreadPoolExecutor(max_workers=2) as pool:
        racing = list(pool.map(lambda _: _pay_alone(gateway_url, tenant, invoice), range(2)))
    assert [r.status_code for r in racing] == [200, 200], [r.text for r in racing]
    paid, other = (r.json()["invoice"] for r in racing)
    assert paid["state"] == "INVOICE_STATE_PAID", paid
    assert paid == other
    assert paid["paymentAttempts"] == 2, paid
    assert not paid.get("lastPaymentError"), paid
    assert _invoice(gateway, tenant, invoice) == paid
    assert _available(gateway, tenant, wallet) == 0
    assert _payments(mesh, invoice) == 1
    (event,) = _paid_events(mesh, invoice)
    assert event.transaction_id == paid["paymentTransactionId"], event
