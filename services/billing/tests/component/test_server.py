"""Billing over a real socket: subscriptions, usage, validation, the ledger call and its failure."""

from __future__ import annotations

import uuid
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2
from keel.billing.v1 import (
    billing_overview_service_pb2,
    billing_overview_service_pb2_grpc,
    invoice_pb2,
    invoice_service_pb2,
    invoice_service_pb2_grpc,
    plan_pb2,
    plan_service_pb2,
    plan_service_pb2_grpc,
    subscription_pb2,
    subscription_service_pb2,
    subscription_service_pb2_grpc,
    usage_service_pb2,
    usage_service_pb2_grpc,
)
from keel.identity.v1 import events_pb2 as identity_events
from keel.type.v1 import asset_pb2, money_pb2
from sqlalchemy.ext.asyncio import AsyncEngine

from billing.bootstrap import build_handlers, utc_now
from billing.events.subscribers import organization_created_handler
from keel_devstack.routed_channel import as_workload
from keel_runtime.context import ACTING_ORG_HEADER, AUTHORIZATION_HEADER
from keel_runtime.events import new_event
from keel_runtime.interceptors.principal import UNTRUSTED_PEER
from keel_runtime.tenancy import set_tenant
from keel_runtime.testing import TokenIssuer
from keel_runtime.tokens import TOKEN_EXPIRED, TOKEN_INVALID

from ..unit.conftest import FakeLedger
from .conftest import LEDGER_TIMEOUT_S, AsUser, FakeLedgerServer

ANONYMOUS = "PRINCIPAL_REQUIRED"


def error_info(exc: grpc.aio.AioRpcError) -> error_details_pb2.ErrorInfo:
    for key, value in exc.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            for detail in status_pb2.Status.FromString(value).details:
                info = error_details_pb2.ErrorInfo()
                if detail.Unpack(info):
                    return info
    raise AssertionError("no ErrorInfo in the status")


async def sign_up(engine: AsyncEngine) -> str:
    """What identity.organization.created does to billing."""
    org_id = str(uuid.uuid4())
    handle = organization_created_handler(
        build_handlers(engine, FakeLedger()).subscriptions, utc_now
    )
    event = new_event(
        type="identity.organization.created",
        source="identity",
        subject=org_id,
        org_id=org_id,
        payload=identity_events.OrganizationCreated(organization_id=org_id),
    )
    async with engine.begin() as conn:
        await set_tenant(conn, org_id)  # as the consumer does, from the event
        await handle(conn, event)
    return org_id


async def test_get_and_list_subscriptions_are_scoped_to_the_callers_org(
    engine: AsyncEngine, billing: Any, as_user: AsUser
) -> None:
    org_id = await sign_up(engine)
    stub = subscription_service_pb2_grpc.SubscriptionServiceStub(billing)
    listed = await stub.ListSubscriptions(
        subscription_service_pb2.ListSubscriptionsRequest(), metadata=as_user(org_id)
    )
    (sub,) = listed.subscriptions
    assert sub.plan_id == "free" and sub.state == subscription_pb2.SUBSCRIPTION_STATE_ACTIVE
    got = await stub.GetSubscription(
        subscription_service_pb2.GetSubscriptionRequest(subscription_id=sub.subscription_id),
        metadata=as_user(org_id),
    )
    assert got.subscription == sub

    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.GetSubscription(
            subscription_service_pb2.GetSubscriptionRequest(subscription_id=sub.subscription_id),
            metadata=as_user(str(uuid.uuid4())),
        )
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    assert error_info(raised.value).reason == "SUBSCRIPTION_NOT_FOUND"
    other = await stub.ListSubscriptions(
        subscription_service_pb2.ListSubscriptionsRequest(), metadata=as_user(str(uuid.uuid4()))
    )
    assert list(other.subscriptions) == []


async def test_calls_without_principal_are_unauthenticated(billing: Any) -> None:
    stub = subscription_service_pb2_grpc.SubscriptionServiceStub(billing)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.ListSubscriptions(subscription_service_pb2.ListSubscriptionsRequest())
    assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_credentials_billing_cannot_verify_are_refused(
    engine: AsyncEngine, billing: Any, as_user: AsUser, token_issuer: TokenIssuer
) -> None:
    org_id = await sign_up(engine)
    stub = subscription_service_pb2_grpc.SubscriptionServiceStub(billing)
    refused = {
        "a token signed by another key": (TokenIssuer().metadata(org_id), TOKEN_INVALID),
        "an expired token": (token_issuer.metadata(org_id, ttl_seconds=-120), TOKEN_EXPIRED),
        "a user's token from the operator's certificate": (
            (*as_workload("operator"), *as_user(org_id)),
            UNTRUSTED_PEER,
        ),
        # The gateway's certificate is no platform caller: naming an organization is nothing.
        "an organization named by the gateway": (((ACTING_ORG_HEADER, org_id),), ANONYMOUS),
    }
    for case, (metadata, reason) in refused.items():
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await stub.ListSubscriptions(
                subscription_service_pb2.ListSubscriptionsRequest(), metadata=metadata
            )
        assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED, case
        assert error_info(raised.value).reason == reason, case


async def test_only_a_platform_caller_names_the_organization_it_acts_for(
    engine: AsyncEngine, billing: Any, as_user: AsUser
) -> None:
    mine, theirs = await sign_up(engine), await sign_up(engine)
    stub = subscription_service_pb2_grpc.SubscriptionServiceStub(billing)
    request = subscription_service_pb2.ListSubscriptionsRequest()

    # A user's organization is the one in its token, whatever else the call names.
    as_user_naming_theirs = (*as_user(mine), (ACTING_ORG_HEADER, theirs))
    listed = await stub.ListSubscriptions(request, metadata=as_user_naming_theirs)
    assert [s.organization_id for s in listed.subscriptions] == [mine]
    # A Keel service (its certificate, no token) acts for the organization it names.
    by_items = await stub.ListSubscriptions(request, metadata=as_workload("items", theirs))
    assert [s.organization_id for s in by_items.subscriptions] == [theirs]


async def test_invalid_input_is_invalid_argument(billing: Any, as_user: AsUser) -> None:
    stub = subscription_service_pb2_grpc.SubscriptionServiceStub(billing)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.GetSubscription(
            subscription_service_pb2.GetSubscriptionRequest(subscription_id="nope"),
            metadata=as_user(str(uuid.uuid4())),
        )
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_record_usage_reports_duplicates(
    engine: AsyncEngine, billing: Any, as_user: AsUser
) -> None:
    org_id = await sign_up(engine)
    stub = usage_service_pb2_grpc.UsageServiceStub(billing)
    request = usage_service_pb2.RecordUsageRequest(
        usage=usage_service_pb2.UsageInput(metric="items.confirmed", quantity=1, dedup_key="k1")
    )
    first = await stub.RecordUsage(request, metadata=as_user(org_id))
    again = await stub.RecordUsage(request, metadata=as_user(org_id))
    assert (first.duplicate, again.duplicate) == (False, True)
    assert again.usage_record.usage_record_id == first.usage_record.usage_record_id
    summary = await stub.GetUsageSummary(
        usage_service_pb2.GetUsageSummaryRequest(), metadata=as_user(org_id)
    )
    assert [(m.metric, m.value) for m in summary.metrics] == [("items.confirmed", 1)]


def field_violations(exc: grpc.aio.AioRpcError) -> list[str]:
    for key, value in exc.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            for detail in status_pb2.Status.FromString(value).details:
                found = error_details_pb2.BadRequest()
                if detail.Unpack(found):
                    return [v.field for v in found.field_violations]
    raise AssertionError("no BadRequest in the status")


async def test_a_usage_time_outside_the_timestamp_range_names_its_field(
    engine: AsyncEngine, billing: Any, as_user: AsUser
) -> None:
    """Over gRPC (no gateway parsing RFC 3339) any seconds reach billing: the event's field is
    named, nothing of the batch is recorded."""
    org_id = await sign_up(engine)
    stub = usage_service_pb2_grpc.UsageServiceStub(billing)
    fine = usage_service_pb2.UsageInput(metric="items.confirmed", quantity=1, dedup_key="k1")
    beyond = usage_service_pb2.UsageInput(metric="items.confirmed", quantity=1, dedup_key="k2")
    beyond.event_time.seconds = 10**12
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stub.RecordUsageBatch(
            usage_service_pb2.RecordUsageBatchRequest(usages=[fine, beyond]),
            metadata=as_user(org_id),
        )
    assert refused.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert error_info(refused.value).reason == "VALIDATION_FAILED"
    assert field_violations(refused.value) == ["usages[1].event_time"]
    summary = await stub.GetUsageSummary(
        usage_service_pb2.GetUsageSummaryRequest(), metadata=as_user(org_id)
    )
    assert list(summary.metrics) == []


async def test_overview_reads_the_wallet_through_the_ledger(
    engine: AsyncEngine, billing: Any, as_user: AsUser, fake_ledger: FakeLedgerServer
) -> None:
    org_id = await sign_up(engine)
    fake_ledger.state.wallets[org_id] = (str(uuid.uuid4()), 12_345)
    stub = billing_overview_service_pb2_grpc.BillingOverviewServiceStub(billing)
    user = as_user(org_id, request_id="req-overview-1")
    response = await stub.GetBillingOverview(
        billing_overview_service_pb2.GetBillingOverviewRequest(), metadata=user
    )
    overview = response.overview
    assert overview.subscription.plan_id == "free"
    assert overview.wallet_balance == money_pb2.Money(
        asset=asset_pb2.Asset(code="USD", scale=2), amount=12_345
    )
    assert overview.amount_due == money_pb2.Money(
        asset=asset_pb2.Asset(code="USD", scale=2), amount=0
    )

    calls = fake_ledger.state.calls
    assert [c.method for c in calls] == ["ListAccounts", "GetBalance"]
    for call in calls:
        # The caller's request id and access token travel on (the ledger verifies the token
        # again); every call has a deadline.
        assert call.metadata["x-request-id"] == "req-overview-1"
        assert call.metadata[AUTHORIZATION_HEADER] == dict(user)[AUTHORIZATION_HEADER]
        # Deadline clocks are coarse: allow a little slack above the configured timeout.
        assert call.time_remaining is not None and 0 < call.time_remaining <= LEDGER_TIMEOUT_S + 0.1
    assert calls[0].request.asset_code == "USD"


async def test_ledger_down_is_unavailable_not_internal(
    engine: AsyncEngine, billing_without_ledger: Any, as_user: AsUser
) -> None:
    org_id = await sign_up(engine)
    stub = billing_overview_service_pb2_grpc.BillingOverviewServiceStub(billing_without_ledger)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.GetBillingOverview(
            billing_overview_service_pb2.GetBillingOverviewRequest(), metadata=as_user(org_id)
        )
    assert raised.value.code() == grpc.StatusCode.UNAVAILABLE
    assert error_info(raised.value).reason == "LEDGER_UNAVAILABLE"


async def test_pay_invoice_through_the_ledger_is_idempotent_on_the_invoice(
    engine: AsyncEngine, billing: Any, as_user: AsUser, fake_ledger: FakeLedgerServer
) -> None:
    org_id = await sign_up(engine)
    usage = usage_service_pb2_grpc.UsageServiceStub(billing)
    await usage.RecordUsageBatch(
        usage_service_pb2.RecordUsageBatchRequest(
            usages=[
                usage_service_pb2.UsageInput(
                    metric="items.confirmed", quantity=1, dedup_key=f"k{i}"
                )
                for i in range(102)
            ]
        ),
        metadata=as_user(org_id),
    )
    subs = subscription_service_pb2_grpc.SubscriptionServiceStub(billing)
    (sub,) = (
        await subs.ListSubscriptions(
            subscription_service_pb2.ListSubscriptionsRequest(), metadata=as_user(org_id)
        )
    ).subscriptions
    invoices = invoice_service_pb2_grpc.InvoiceServiceStub(billing)
    invoice = (
        await invoices.CloseBillingPeriod(
            invoice_service_pb2.CloseBillingPeriodRequest(
                subscription_id=sub.subscription_id, request_id=str(uuid.uuid4())
            ),
            metadata=as_user(org_id),
        )
    ).invoice
    assert invoice.total.amount == 10 and invoice.state == invoice_pb2.INVOICE_STATE_OPEN
    fake_ledger.state.wallets[org_id] = (str(uuid.uuid4()), 1_000)
    pay = invoice_service_pb2.PayInvoiceRequest(invoice_id=invoice.invoice_id)
    paid = (await invoices.PayInvoice(pay, metadata=as_user(org_id))).invoice
    assert paid.state == invoice_pb2.INVOICE_STATE_PAID and paid.payment_transaction_id
    again = (await invoices.PayInvoice(pay, metadata=as_user(org_id))).invoice
    assert again.payment_transaction_id == paid.payment_transaction_id

    (payment,) = [c for c in fake_ledger.state.calls if c.method == "CreateTransaction"]
    assert payment.request.request_id == f"invoice:{invoice.invoice_id}"
    # Billing pays as itself (its certificate, no user's token), for the invoice's organization.
    assert AUTHORIZATION_HEADER not in payment.metadata
    assert payment.metadata[ACTING_ORG_HEADER] == org_id
    assert [p.amount for p in payment.request.postings] == [10, 10]


async def test_plans_are_created_by_operators_only(billing: Any, as_user: AsUser) -> None:
    stub = plan_service_pb2_grpc.PlanServiceStub(billing)
    request = plan_service_pb2.CreatePlanRequest(
        plan_id="team",
        plan=plan_pb2.Plan(
            display_name="Team",
            asset=asset_pb2.Asset(code="USD", scale=2),
            interval=plan_pb2.BILLING_INTERVAL_MONTH,
            prices=[
                plan_pb2.Price(flat=plan_pb2.FlatPrice(amount=3000)),
                plan_pb2.Price(
                    metric="items.confirmed",
                    tiered=plan_pb2.TieredPrice(
                        mode=plan_pb2.TIER_MODE_GRADUATED,
                        tiers=[
                            plan_pb2.Tier(up_to=100, unit_amount=0),
                            plan_pb2.Tier(unit_amount=2),
                        ],
                    ),
                ),
            ],
        ),
    )
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.CreatePlan(request, metadata=as_user(str(uuid.uuid4())))
    assert raised.value.code() == grpc.StatusCode.PERMISSION_DENIED
    # A platform method (keel.auth.v1.access): the server chain refuses every tenant.
    assert error_info(raised.value).reason == "PLATFORM_REQUIRED"

    operator = as_workload("operator")
    created = (await stub.CreatePlan(request, metadata=operator)).plan
    assert created.state == plan_pb2.PLAN_STATE_ACTIVE
    assert created.prices[1].tiered.tiers[0].up_to == 100
    assert not created.prices[1].tiered.tiers[1].HasField("up_to")
    got = await stub.GetPlan(plan_service_pb2.GetPlanRequest(plan_id="team"), metadata=operator)
    assert got.plan == created

    # A plan's asset is a currency billing supports, at that currency's own scale.
    for asset, field in (
        (None, "plan.asset"),
        (asset_pb2.Asset(code="usd", scale=2), "plan.asset.code"),
        (asset_pb2.Asset(code="USD", scale=3), "plan.asset.scale"),
        (asset_pb2.Asset(code="JPY", scale=2), "plan.asset.scale"),
    ):
        bad = plan_service_pb2.CreatePlanRequest(
            plan_id="odd-asset",
            plan=plan_pb2.Plan(asset=asset, interval=plan_pb2.BILLING_INTERVAL_MONTH),
        )
        with pytest.raises(grpc.aio.AioRpcError) as invalid:
            await stub.CreatePlan(bad, metadata=operator)
        assert invalid.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert field_violations(invalid.value) == [field], asset


async def test_create_plan_is_idempotent_on_request_id(billing: Any) -> None:
    stub = plan_service_pb2_grpc.PlanServiceStub(billing)
    operator = as_workload("operator")
    request_id = str(uuid.uuid4())
    plan_id = f"pro-{uuid.uuid4().hex[:8]}"

    def create(plan_id: str, amount: int) -> plan_service_pb2.CreatePlanRequest:
        plan = plan_pb2.Plan(
            display_name="Pro",
            asset=asset_pb2.Asset(code="USD", scale=2),
            interval=plan_pb2.BILLING_INTERVAL_MONTH,
            prices=[plan_pb2.Price(flat=plan_pb2.FlatPrice(amount=amount))],
        )
        return plan_service_pb2.CreatePlanRequest(plan_id=plan_id, plan=plan, request_id=request_id)

    created = (await stub.CreatePlan(create(plan_id, 5000), metadata=operator)).plan
    again = (await stub.CreatePlan(create(plan_id, 5000), metadata=operator)).plan
    assert again == created
    other_id = f"other-{uuid.uuid4().hex[:8]}"
    for refused in (create(plan_id, 6000), create(other_id, 5000)):
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await stub.CreatePlan(refused, metadata=operator)
        assert raised.value.code() == grpc.StatusCode.ALREADY_EXISTS
        assert error_info(raised.value).reason == "REQUEST_ID_REUSED"
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await stub.GetPlan(plan_service_pb2.GetPlanRequest(plan_id=other_id), metadata=operator)
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND

    malformed = create(f"bad-{uuid.uuid4().hex[:8]}", 5000)
    malformed.request_id = "not-a-uuid"
    with pytest.raises(grpc.aio.AioRpcError) as invalid:
        await stub.CreatePlan(malformed, metadata=operator)
    assert invalid.value.code() == grpc.StatusCode.INVALID_ARGUMENT
