"""Handlers over fakes: subscriptions, plans, usage, invoices, overview and webhooks."""

from __future__ import annotations

import dataclasses
import itertools
import uuid
from datetime import timedelta

import pytest

from billing.adapters.webhook_targets import WebhookTargets
from billing.app.commands import (
    ArchivePlan,
    CancelSubscription,
    ChangePlan,
    CloseBillingPeriod,
    CreatePlan,
    CreateSubscription,
    CreateWebhookEndpoint,
    DeleteWebhookEndpoint,
    GetBillingOverview,
    GetInvoice,
    GetPlan,
    GetSubscription,
    GetUsageSummary,
    ListPlans,
    ListSubscriptions,
    ListWebhookEndpoints,
    PayInvoice,
    RecordUsage,
    RecordUsageBatch,
    UsageInput,
    VoidInvoice,
)
from billing.app.invoices import InvoiceHandlers
from billing.app.overview import OverviewHandlers
from billing.app.plans import PlanHandlers
from billing.app.subscriptions import SubscriptionHandlers
from billing.app.usage import Late, UsageHandlers
from billing.app.webhooks import WebhookHandlers
from billing.domain import errors
from billing.domain import events as ev
from billing.domain.invoice import Invoice, InvoiceState, LineKind
from billing.domain.plan import Interval
from billing.domain.pricing import Aggregation, Flat, PerUnit, Price
from billing.domain.subscription import SubscriptionState
from keel_runtime import paging
from keel_runtime.errors import CallerRefused

from .conftest import (
    FakeClock,
    FakeDatabase,
    FakeLedger,
    id_factory,
    member,
    operator,
    owner,
    public_dns,
)


@pytest.fixture
def subs(db: FakeDatabase, clock: FakeClock, ids: itertools.count[int]) -> SubscriptionHandlers:
    return SubscriptionHandlers(db.uow, clock, id_factory(ids))


@pytest.fixture
def plans(db: FakeDatabase, clock: FakeClock) -> PlanHandlers:
    return PlanHandlers(db.uow, clock)


@pytest.fixture
def usage(db: FakeDatabase, clock: FakeClock, ids: itertools.count[int]) -> UsageHandlers:
    return UsageHandlers(db.uow, clock, id_factory(ids))


@pytest.fixture
def invoices(
    db: FakeDatabase, ledger: FakeLedger, clock: FakeClock, ids: itertools.count[int]
) -> InvoiceHandlers:
    return InvoiceHandlers(db.uow, ledger, clock, id_factory(ids))


async def start(db: FakeDatabase, subs: SubscriptionHandlers, org_id: str = "org-1"):  # type: ignore[no-untyped-def]
    async with db.uow() as uow:
        sub = await subs.start_default(uow, org_id)
        await uow.commit()
    return sub


def rid() -> str:
    return str(uuid.uuid4())


TEAM = CreatePlan(
    caller=operator(),
    plan_id="team",
    display_name="Team",
    currency="USD",
    interval=Interval.MONTH,
    prices=(Price("", Flat(3000)), Price("items.confirmed", PerUnit(2))),
)


# --- subscriptions ---------------------------------------------------------------------


async def test_start_default_is_idempotent(db: FakeDatabase, subs: SubscriptionHandlers) -> None:
    first = await start(db, subs)
    assert first is not None and first.plan_id == "free"
    assert await start(db, subs) is None
    assert len(db.state.subscriptions) == 1
    assert [type(e) for e in db.published] == [ev.SubscriptionCreated]


async def test_usage_reported_before_billing_saw_the_sign_up_is_in_the_first_period(
    db: FakeDatabase, subs: SubscriptionHandlers, usage: UsageHandlers, clock: FakeClock
) -> None:
    """Items' events and identity's sign-up travel on different streams: a confirmed item
    can reach billing before the sign-up does. Started at billing's clock, the first period
    began after that usage, and no invoice would ever price it."""
    signed_up = clock.now
    clock.advance(timedelta(seconds=5))
    async with db.uow() as uow:
        await usage.record_in(
            uow, "org-1", [UsageInput("items.confirmed", 1, "k1")], late=Late.CARRY
        )
        await uow.commit()
    clock.advance(timedelta(seconds=5))
    async with db.uow() as uow:
        sub = await subs.start_default(uow, "org-1", since=signed_up)
        await uow.commit()
    assert sub is not None
    assert (sub.current_period_start, sub.create_time) == (signed_up, clock.now)
    summary = await usage.summary(
        GetUsageSummary(member(), metrics=[], start=None, end=None, aggregation=None)
    )
    assert [(m.metric, m.value) for m in summary.metrics] == [("items.confirmed", 1)]


@pytest.mark.parametrize(
    "offset", [timedelta(seconds=1), -timedelta(days=1, seconds=1)], ids=["future", "stale"]
)
async def test_a_sign_up_time_in_the_future_or_long_past_starts_the_subscription_now(
    db: FakeDatabase, subs: SubscriptionHandlers, clock: FakeClock, offset: timedelta
) -> None:
    async with db.uow() as uow:
        sub = await subs.start_default(uow, "org-1", since=clock.now + offset)
    assert sub is not None and sub.current_period_start == clock.now


async def test_start_default_without_default_plan_fails(
    db: FakeDatabase, subs: SubscriptionHandlers
) -> None:
    db.state.plans.clear()
    with pytest.raises(errors.DefaultPlanMissing):
        await start(db, subs)


async def test_a_subscribed_organization_is_left_alone_when_the_default_plan_is_gone(
    db: FakeDatabase, subs: SubscriptionHandlers
) -> None:
    # A repeated sign-up event after the default plan was retired: nothing to start, and
    # no failure that would send the event to the dead letters.
    assert await start(db, subs) is not None
    db.state.plans.clear()
    assert await start(db, subs) is None


async def test_other_organizations_subscriptions_are_not_found(
    db: FakeDatabase, subs: SubscriptionHandlers
) -> None:
    sub = await start(db, subs)
    assert (await subs.get(GetSubscription(member(), sub.subscription_id))) == sub
    with pytest.raises(errors.SubscriptionNotFound):
        await subs.get(GetSubscription(member("org-2"), sub.subscription_id))
    assert (
        await subs.list(ListSubscriptions(member("org-2"), state=None, page_size=0, page_token=""))
    ).subscriptions == []


async def test_list_paginates_newest_first(
    db: FakeDatabase, subs: SubscriptionHandlers, clock: FakeClock
) -> None:
    created = []
    for _ in range(3):
        created.append(await subs.create(CreateSubscription(owner(), "free", rid())))
        await subs.cancel(
            CancelSubscription(owner(), created[-1].subscription_id, at_period_end=False)
        )
        clock.advance(timedelta(seconds=1))
    page = await subs.list(ListSubscriptions(owner(), state=None, page_size=2, page_token=""))
    assert [s.subscription_id for s in page.subscriptions] == [
        created[2].subscription_id,
        created[1].subscription_id,
    ]
    rest = await subs.list(
        ListSubscriptions(owner(), state=None, page_size=2, page_token=page.next_page_token)
    )
    assert [s.subscription_id for s in rest.subscriptions] == [created[0].subscription_id]
    assert rest.next_page_token == ""


async def test_bad_page_token_is_invalid(subs: SubscriptionHandlers) -> None:
    with pytest.raises(paging.InvalidPageToken):
        await subs.list(ListSubscriptions(owner(), state=None, page_size=0, page_token="!!!"))


async def test_a_page_token_pages_only_the_query_it_came_from(
    clock: FakeClock, subs: SubscriptionHandlers
) -> None:
    for _ in range(3):
        created = await subs.create(CreateSubscription(owner(), "free", rid()))
        await subs.cancel(CancelSubscription(owner(), created.subscription_id, at_period_end=False))
        clock.advance(timedelta(seconds=1))
    page = await subs.list(
        ListSubscriptions(owner(), state=SubscriptionState.CANCELED, page_size=1, page_token="")
    )
    assert page.next_page_token
    with pytest.raises(paging.InvalidPageToken):  # the same position of another listing
        await subs.list(
            ListSubscriptions(owner(), state=None, page_size=1, page_token=page.next_page_token)
        )


async def test_create_subscription_is_idempotent_on_request_id(
    db: FakeDatabase, subs: SubscriptionHandlers
) -> None:
    key = rid()
    first = await subs.create(CreateSubscription(owner(), "free", key))
    assert await subs.create(CreateSubscription(owner(), "free", key)) == first
    with pytest.raises(errors.RequestIdReused):
        await subs.create(CreateSubscription(owner(), "other", key))
    with pytest.raises(errors.ActiveSubscriptionExists):
        await subs.create(CreateSubscription(owner(), "free", rid()))


async def test_members_cannot_change_subscriptions(subs: SubscriptionHandlers) -> None:
    with pytest.raises(CallerRefused):
        await subs.create(CreateSubscription(member(), "free", rid()))


async def test_change_plan_records_proration(
    db: FakeDatabase,
    subs: SubscriptionHandlers,
    plans: PlanHandlers,
    clock: FakeClock,
) -> None:
    await plans.create(TEAM)
    sub = await start(db, subs)
    clock.advance((sub.current_period_end - sub.current_period_start) / 2)
    changed, proration = await subs.change_plan(
        ChangePlan(owner(), sub.subscription_id, "team", rid())
    )
    assert changed.plan_id == "team"
    assert proration.amount_minor == -1500  # free has no flat fee; half of team's is credited
    assert isinstance(db.published[-1], ev.SubscriptionChanged)


async def test_cancel_emits_once(db: FakeDatabase, subs: SubscriptionHandlers) -> None:
    sub = await start(db, subs)
    await subs.cancel(CancelSubscription(owner(), sub.subscription_id, at_period_end=False))
    await subs.cancel(CancelSubscription(owner(), sub.subscription_id, at_period_end=False))
    assert [type(e) for e in db.published].count(ev.SubscriptionCanceled) == 1


# --- plans -----------------------------------------------------------------------------


async def test_create_plan_is_idempotent_and_operator_only(plans: PlanHandlers) -> None:
    with pytest.raises(CallerRefused):
        await plans.create(dataclasses.replace(TEAM, caller=owner()))
    first = await plans.create(TEAM)
    assert await plans.create(TEAM) == first
    with pytest.raises(errors.PlanAlreadyExists):
        await plans.create(CreatePlan(operator(), "team", "Team", "EUR", Interval.MONTH, ()))


async def test_create_plan_is_idempotent_on_request_id(plans: PlanHandlers) -> None:
    request_id = rid()
    first = await plans.create(dataclasses.replace(TEAM, request_id=request_id))
    await plans.archive(ArchivePlan(operator(), "team"))
    # A retry returns the first plan as it is now.
    again = await plans.create(dataclasses.replace(TEAM, request_id=request_id))
    assert (again.plan_id, again.create_time, again.archived) == ("team", first.create_time, True)
    # Another payload under the same request id is refused, even for a plan id still free.
    other = CreatePlan(operator(), "crew", "Crew", "USD", Interval.MONTH, (), request_id=request_id)
    with pytest.raises(errors.RequestIdReused):
        await plans.create(other)
    assert await plans.get(GetPlan(member(), "team")) == again
    with pytest.raises(errors.PlanNotFound):
        await plans.get(GetPlan(member(), "crew"))


async def test_archived_plans_leave_the_default_list(plans: PlanHandlers) -> None:
    await plans.create(TEAM)
    archived = await plans.archive(ArchivePlan(operator(), "team"))
    assert archived.archived
    assert [
        p.plan_id
        for p in (
            await plans.list(ListPlans(member(), page_size=0, page_token="", show_archived=False))
        ).plans
    ] == ["free"]
    listed = await plans.list(ListPlans(member(), page_size=1, page_token="", show_archived=True))
    assert [p.plan_id for p in listed.plans] == ["free"] and listed.next_page_token
    with pytest.raises(errors.PlanNotFound):
        await plans.get(GetPlan(member(), "nope"))


# --- usage -----------------------------------------------------------------------------


async def test_record_usage_is_idempotent_on_dedup_key(
    db: FakeDatabase, usage: UsageHandlers
) -> None:
    first, duplicate = await usage.record(
        RecordUsage(member_reporter(), UsageInput("items.confirmed", 1, "k1"))
    )
    assert not duplicate
    again, duplicate = await usage.record(
        RecordUsage(member_reporter(), UsageInput("items.confirmed", 1, "k1"))
    )
    assert duplicate and again == first
    assert [type(e) for e in db.published] == [ev.UsageRecorded]


async def test_a_carried_event_lands_in_the_open_period_when_a_close_passed_its_clock(
    db: FakeDatabase, subs: SubscriptionHandlers, usage: UsageHandlers, clock: FakeClock
) -> None:
    """Another service's event read the clock, then waited on the subscription's lock while
    an early close committed a moment later: dated at that reading, it would fall before the
    open period, in no invoice ever."""
    sub = await start(db, subs)
    closed_at = clock.now + timedelta(seconds=1)
    db.state.subscriptions[sub.subscription_id] = dataclasses.replace(
        sub, current_period_start=closed_at
    )
    async with db.uow() as uow:
        (record,) = await usage.record_in(
            uow, sub.org_id, [UsageInput("items.confirmed", 1, "k1")], late=Late.CARRY
        )
    assert record.event_time >= closed_at


async def test_an_event_sent_without_a_time_is_not_refused_when_a_close_passed_its_clock(
    db: FakeDatabase, subs: SubscriptionHandlers, usage: UsageHandlers, clock: FakeClock
) -> None:
    """Dated "now" by billing, not by its sender: a close that committed while it waited on
    the lock, after billing read its clock, leaves it to the open period (no
    USAGE_PERIOD_CLOSED for a time the sender never gave)."""
    sub = await start(db, subs)
    closed_at = clock.now + timedelta(seconds=1)
    db.state.subscriptions[sub.subscription_id] = dataclasses.replace(
        sub, current_period_start=closed_at
    )
    record, duplicate = await usage.record(
        RecordUsage(member_reporter(), UsageInput("items.confirmed", 1, "k1"))
    )
    assert not duplicate and record.event_time >= closed_at


async def test_batch_counts_duplicates(usage: UsageHandlers) -> None:
    await usage.record(RecordUsage(member_reporter(), UsageInput("m", 1, "a")))
    recorded, duplicates = await usage.record_batch(
        RecordUsageBatch(
            member_reporter(),
            [UsageInput("m", 1, "a"), UsageInput("m", 1, "b"), UsageInput("m", 1, "b")],
        )
    )
    assert (recorded, duplicates) == (1, 2)


async def test_summary_defaults_to_current_period_and_plan_aggregation(
    db: FakeDatabase, subs: SubscriptionHandlers, usage: UsageHandlers, clock: FakeClock
) -> None:
    await start(db, subs)
    for i in range(3):
        await usage.record(
            RecordUsage(member_reporter(), UsageInput("items.confirmed", 2, f"k{i}"))
        )
    await usage.record(
        RecordUsage(member_reporter(), UsageInput("api.calls", 5, "c", distinct_value="u1"))
    )
    summary = await usage.summary(
        GetUsageSummary(member(), metrics=[], start=None, end=None, aggregation=None)
    )
    assert [(m.metric, m.aggregation, m.value, m.record_count) for m in summary.metrics] == [
        ("api.calls", Aggregation.SUM, 5, 1),
        ("items.confirmed", Aggregation.SUM, 6, 3),
    ]
    unique = await usage.summary(
        GetUsageSummary(
            member(),
            metrics=["api.calls"],
            start=None,
            end=None,
            aggregation=Aggregation.UNIQUE_COUNT,
        )
    )
    assert unique.metrics[0].value == 1


async def test_summary_without_subscription_needs_a_period(usage: UsageHandlers) -> None:
    with pytest.raises(errors.NoActiveSubscription):
        await usage.summary(
            GetUsageSummary(member(), metrics=[], start=None, end=None, aggregation=None)
        )


def member_reporter():  # type: ignore[no-untyped-def]
    from keel_runtime.caller import Caller

    return Caller(subject="svc", org_id="org-1", kind="api_key")


# --- invoices --------------------------------------------------------------------------


async def close(
    db: FakeDatabase,
    subs: SubscriptionHandlers,
    invoices: InvoiceHandlers,
    usage: UsageHandlers,
    units: int,
    clock: FakeClock,
) -> Invoice:
    sub = await start(db, subs)
    if units:
        await usage.record_batch(
            RecordUsageBatch(
                member_reporter(), [UsageInput("items.confirmed", 1, f"k{i}") for i in range(units)]
            )
        )
    clock.advance(timedelta(days=1))
    return await invoices.close_period(CloseBillingPeriod(owner(), sub.subscription_id, rid()))


async def test_close_period_prices_usage_and_advances(
    db: FakeDatabase,
    subs: SubscriptionHandlers,
    invoices: InvoiceHandlers,
    usage: UsageHandlers,
    clock: FakeClock,
) -> None:
    invoice = await close(db, subs, invoices, usage, 130, clock)
    assert invoice.total_minor == 150  # (130 - 100 included) x 5
    assert invoice.lines[0].kind is LineKind.USAGE and invoice.lines[0].quantity == 130
    (sub,) = db.state.subscriptions.values()
    assert sub.current_period_start == clock.now
    assert isinstance(db.published[-1], ev.InvoiceIssued)


async def test_close_period_is_idempotent_on_request_id(
    db: FakeDatabase, subs: SubscriptionHandlers, invoices: InvoiceHandlers, clock: FakeClock
) -> None:
    sub = await start(db, subs)
    clock.advance(timedelta(hours=1))
    key = rid()
    first = await invoices.close_period(CloseBillingPeriod(owner(), sub.subscription_id, key))
    assert (
        await invoices.close_period(CloseBillingPeriod(owner(), sub.subscription_id, key)) == first
    )
    assert len(db.state.invoices) == 1


async def test_a_period_that_began_this_instant_cannot_be_closed(
    db: FakeDatabase, subs: SubscriptionHandlers, invoices: InvoiceHandlers
) -> None:
    sub = await start(db, subs)
    with pytest.raises(errors.BillingPeriodEmpty):
        await invoices.close_period(CloseBillingPeriod(owner(), sub.subscription_id, rid()))
    assert db.state.invoices == {}


async def test_pay_moves_money_once(
    db: FakeDatabase,
    subs: SubscriptionHandlers,
    invoices: InvoiceHandlers,
    usage: UsageHandlers,
    ledger: FakeLedger,
    clock: FakeClock,
) -> None:
    invoice = await close(db, subs, invoices, usage, 130, clock)
    ledger.fund("org-1", 1000)
    paid = await invoices.pay(PayInvoice(owner(), invoice.invoice_id))
    assert paid.state is InvoiceState.PAID and paid.payment_transaction_id
    assert await invoices.pay(PayInvoice(owner(), invoice.invoice_id)) == paid
    assert ledger.wallets["org-1"].available_minor == 850
    assert [type(e) for e in db.published].count(ev.InvoicePaid) == 1


async def test_short_funds_leave_the_invoice_open_and_emit_failure(
    db: FakeDatabase,
    subs: SubscriptionHandlers,
    invoices: InvoiceHandlers,
    usage: UsageHandlers,
    ledger: FakeLedger,
    clock: FakeClock,
) -> None:
    invoice = await close(db, subs, invoices, usage, 130, clock)
    ledger.fund("org-1", 10)
    with pytest.raises(errors.PaymentDeclined) as raised:
        await invoices.pay(PayInvoice(owner(), invoice.invoice_id))
    assert raised.value.reason == "INSUFFICIENT_FUNDS"
    stored = await invoices.get(GetInvoice(owner(), invoice.invoice_id))
    assert stored.state is InvoiceState.OPEN and stored.last_payment_error == "INSUFFICIENT_FUNDS"
    failure = db.published[-1]
    assert isinstance(failure, ev.InvoicePaymentFailed) and failure.reason == "INSUFFICIENT_FUNDS"


async def test_no_wallet_is_a_payment_failure(
    db: FakeDatabase,
    subs: SubscriptionHandlers,
    invoices: InvoiceHandlers,
    usage: UsageHandlers,
    clock: FakeClock,
) -> None:
    invoice = await close(db, subs, invoices, usage, 101, clock)
    with pytest.raises(errors.WalletNotFound):
        await invoices.pay(PayInvoice(owner(), invoice.invoice_id))
    assert isinstance(db.published[-1], ev.InvoicePaymentFailed)


async def test_ledger_down_changes_nothing(
    db: FakeDatabase,
    subs: SubscriptionHandlers,
    invoices: InvoiceHandlers,
    usage: UsageHandlers,
    ledger: FakeLedger,
    clock: FakeClock,
) -> None:
    invoice = await close(db, subs, invoices, usage, 130, clock)
    ledger.fund("org-1", 1000)
    ledger.down = True
    commits, published = db.commits, len(db.published)
    with pytest.raises(errors.LedgerUnavailable):
        await invoices.pay(PayInvoice(owner(), invoice.invoice_id))
    # Only the attempt's mark (for the payment reconciler): no event, the invoice still open.
    assert db.commits == commits + 1
    assert len(db.published) == published
    after = await invoices.get(GetInvoice(owner(), invoice.invoice_id))
    assert after.state is InvoiceState.OPEN
    assert after.payment_attempts == 0
    assert after.payment_started_time is not None


async def test_zero_invoice_is_paid_without_the_ledger(
    db: FakeDatabase,
    subs: SubscriptionHandlers,
    invoices: InvoiceHandlers,
    usage: UsageHandlers,
    ledger: FakeLedger,
    clock: FakeClock,
) -> None:
    invoice = await close(db, subs, invoices, usage, 0, clock)
    assert (await invoices.pay(PayInvoice(owner(), invoice.invoice_id))).state is InvoiceState.PAID
    assert ledger.calls == 0


async def test_void_then_pay_is_refused(
    db: FakeDatabase,
    subs: SubscriptionHandlers,
    invoices: InvoiceHandlers,
    usage: UsageHandlers,
    clock: FakeClock,
) -> None:
    invoice = await close(db, subs, invoices, usage, 130, clock)
    assert (
        await invoices.void(VoidInvoice(owner(), invoice.invoice_id))
    ).state is InvoiceState.VOID
    with pytest.raises(errors.InvoiceNotOpen):
        await invoices.pay(PayInvoice(owner(), invoice.invoice_id))
    with pytest.raises(errors.InvoiceNotFound):
        await invoices.get(GetInvoice(owner("org-2"), invoice.invoice_id))


# --- overview and webhooks -------------------------------------------------------------


async def test_overview_reads_the_wallet(
    db: FakeDatabase, subs: SubscriptionHandlers, ledger: FakeLedger
) -> None:
    await start(db, subs)
    ledger.fund("org-1", 4200)
    overview = await OverviewHandlers(db.uow, ledger).get(GetBillingOverview(member()))
    assert overview.wallet is not None and overview.wallet.available_minor == 4200
    assert overview.subscription is not None and overview.amount_due is not None
    ledger.down = True
    with pytest.raises(errors.LedgerUnavailable):
        await OverviewHandlers(db.uow, ledger).get(GetBillingOverview(member()))


async def test_webhook_secret_is_shown_once(
    db: FakeDatabase, clock: FakeClock, ids: itertools.count[int]
) -> None:
    hooks = WebhookHandlers(db.uow, clock, id_factory(ids), WebhookTargets(resolver=public_dns))
    key = rid()
    endpoint, secret = await hooks.create(
        CreateWebhookEndpoint(
            owner(), url="https://x.example/h", event_types=[], description="", request_id=key
        )
    )
    assert secret.startswith("whsec_")
    again, secret_again = await hooks.create(
        CreateWebhookEndpoint(
            owner(), url="https://x.example/h", event_types=[], description="", request_id=key
        )
    )
    assert again == endpoint and secret_again == ""
    assert (
        await hooks.list(ListWebhookEndpoints(owner(), page_size=0, page_token=""))
    ).endpoints == [endpoint]
    await hooks.delete(DeleteWebhookEndpoint(owner(), endpoint.webhook_endpoint_id))
    with pytest.raises(errors.WebhookEndpointNotFound):
        await hooks.delete(DeleteWebhookEndpoint(owner(), endpoint.webhook_endpoint_id))
