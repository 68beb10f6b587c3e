"""What billing answers for every outcome of the ledger: a mapped status, never INTERNAL."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import grpc
import pytest
from keel.billing.v1 import (
    billing_overview_service_pb2,
    billing_overview_service_pb2_grpc,
    invoice_pb2,
    invoice_service_pb2,
    invoice_service_pb2_grpc,
    usage_service_pb2_grpc,
)

from .conftest import AsUser, FakeLedgerServer
from .test_server import error_info
from .test_usage_limits import batch, subscribe


async def test_overview_without_ledger_permission_is_permission_denied(
    billing: Any, as_user: AsUser, fake_ledger: FakeLedgerServer
) -> None:
    org_id, _ = await subscribe(billing, as_user, "plain", 1)
    fake_ledger.state.failures["ListAccounts"] = (
        grpc.StatusCode.PERMISSION_DENIED,
        "PERMISSION_DENIED",
    )
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await billing_overview_service_pb2_grpc.BillingOverviewServiceStub(
            billing
        ).GetBillingOverview(
            billing_overview_service_pb2.GetBillingOverviewRequest(), metadata=as_user(org_id)
        )
    assert raised.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert error_info(raised.value).reason == "LEDGER_PERMISSION_DENIED"


async def open_invoice(billing: Any, as_user: AsUser, plan_id: str) -> tuple[str, str]:
    org_id, subscription_id = await subscribe(billing, as_user, plan_id, 5)
    await usage_service_pb2_grpc.UsageServiceStub(billing).RecordUsageBatch(
        batch("u", 2, 1), metadata=as_user(org_id)
    )
    invoice = (
        await invoice_service_pb2_grpc.InvoiceServiceStub(billing).CloseBillingPeriod(
            invoice_service_pb2.CloseBillingPeriodRequest(
                subscription_id=subscription_id, request_id=str(uuid.uuid4())
            ),
            metadata=as_user(org_id),
        )
    ).invoice
    return org_id, invoice.invoice_id


@pytest.mark.parametrize(
    ("ledger_code", "ledger_reason", "code", "reason"),
    [
        # Declines the ledger names keep their reason, whatever it is.
        (
            grpc.StatusCode.FAILED_PRECONDITION,
            "INSUFFICIENT_FUNDS",
            "FAILED_PRECONDITION",
            "INSUFFICIENT_FUNDS",
        ),
        (
            grpc.StatusCode.ALREADY_EXISTS,
            "REQUEST_ID_REUSED",
            "FAILED_PRECONDITION",
            "REQUEST_ID_REUSED",
        ),
        (grpc.StatusCode.INVALID_ARGUMENT, "", "FAILED_PRECONDITION", "INVALID_ARGUMENT"),
        (grpc.StatusCode.OUT_OF_RANGE, "", "FAILED_PRECONDITION", "OUT_OF_RANGE"),
        # The rest map by status code.
        (grpc.StatusCode.PERMISSION_DENIED, "", "PERMISSION_DENIED", "LEDGER_PERMISSION_DENIED"),
        (grpc.StatusCode.UNAUTHENTICATED, "", "PERMISSION_DENIED", "LEDGER_PERMISSION_DENIED"),
        (grpc.StatusCode.ABORTED, "", "UNAVAILABLE", "LEDGER_UNAVAILABLE"),
        (grpc.StatusCode.RESOURCE_EXHAUSTED, "", "UNAVAILABLE", "LEDGER_UNAVAILABLE"),
        (grpc.StatusCode.INTERNAL, "", "UNAVAILABLE", "LEDGER_FAILED"),
        (grpc.StatusCode.UNKNOWN, "", "UNAVAILABLE", "LEDGER_FAILED"),
        (grpc.StatusCode.UNIMPLEMENTED, "", "UNAVAILABLE", "LEDGER_FAILED"),
    ],
)
async def test_every_ledger_outcome_of_pay_invoice_is_mapped(
    billing: Any,
    as_user: AsUser,
    fake_ledger: FakeLedgerServer,
    ledger_code: grpc.StatusCode,
    ledger_reason: str,
    code: str,
    reason: str,
) -> None:
    org_id, invoice_id = await open_invoice(billing, as_user, f"p-{uuid.uuid4().hex[:8]}")
    fake_ledger.state.wallets[org_id] = (str(uuid.uuid4()), 1_000)
    fake_ledger.state.failures["CreateTransaction"] = (ledger_code, ledger_reason)
    invoices = invoice_service_pb2_grpc.InvoiceServiceStub(billing)
    pay = invoice_service_pb2.PayInvoiceRequest(invoice_id=invoice_id)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await invoices.PayInvoice(pay, metadata=as_user(org_id))
    assert (raised.value.code().name, error_info(raised.value).reason) == (code, reason)

    # The invoice stays open, and pays once the ledger accepts.
    del fake_ledger.state.failures["CreateTransaction"]
    paid = (await invoices.PayInvoice(pay, metadata=as_user(org_id))).invoice
    assert paid.state == invoice_pb2.INVOICE_STATE_PAID


async def test_declines_schedule_retries_then_the_invoice_is_uncollectible(
    billing: Any, as_user: AsUser, fake_ledger: FakeLedgerServer
) -> None:
    org_id, invoice_id = await open_invoice(billing, as_user, "dunned")
    fake_ledger.state.wallets[org_id] = ("acct-dunned", 0)
    fake_ledger.state.failures["CreateTransaction"] = (
        grpc.StatusCode.FAILED_PRECONDITION,
        "INSUFFICIENT_FUNDS",
    )
    stub = invoice_service_pb2_grpc.InvoiceServiceStub(billing)
    get = invoice_service_pb2.GetInvoiceRequest(invoice_id=invoice_id)
    for attempt in range(1, 5):  # the first collection and the three retries of 1d, 3d, 5d
        with pytest.raises(grpc.aio.AioRpcError):
            await stub.PayInvoice(
                invoice_service_pb2.PayInvoiceRequest(invoice_id=invoice_id),
                metadata=as_user(org_id),
            )
        invoice = (await stub.GetInvoice(get, metadata=as_user(org_id))).invoice
        assert invoice.payment_attempts == attempt
        if attempt == 1:
            first = invoice.next_payment_attempt_time.ToDatetime()
            assert first - invoice.issue_time.ToDatetime() >= timedelta(days=1)
    assert invoice.state == invoice_pb2.INVOICE_STATE_UNCOLLECTIBLE
    assert not invoice.HasField("next_payment_attempt_time")
    listed = await stub.ListInvoices(
        invoice_service_pb2.ListInvoicesRequest(state=invoice_pb2.INVOICE_STATE_UNCOLLECTIBLE),
        metadata=as_user(org_id),
    )
    assert [i.invoice_id for i in listed.invoices] == [invoice_id]
