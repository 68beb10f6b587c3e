"""Plans, periods, proration, invoices and the usage aggregation reference."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from billing.domain import errors
from billing.domain.invoice import InvoiceState, LineKind, issue_invoice
from billing.domain.periods import add_months, next_period_end, prorate
from billing.domain.plan import Interval, new_plan
from billing.domain.pricing import Aggregation, Flat, PerUnit, Price, Tier, Tiered, TierMode
from billing.domain.subscription import SubscriptionState, start_subscription
from billing.domain.usage import TallyPeriod, UsageRecord, aggregate
from billing.domain.webhook import signature_header

NOW = datetime(2026, 1, 31, 12, 0, tzinfo=UTC)


def plan(plan_id: str = "team", flat: int = 3000, currency: str = "USD"):  # type: ignore[no-untyped-def]
    return new_plan(
        plan_id=plan_id,
        display_name=plan_id.title(),
        currency=currency,
        interval=Interval.MONTH,
        prices=(
            Price(metric="", model=Flat(flat)),
            Price(metric="items.confirmed", model=PerUnit(5), included_quantity=100),
        ),
        now=NOW,
    )


def test_months_clamp_and_do_not_drift() -> None:
    assert add_months(NOW, 1) == datetime(2026, 2, 28, 12, tzinfo=UTC)
    feb = add_months(NOW, 1)
    assert next_period_end(NOW, feb, 1) == datetime(2026, 3, 31, 12, tzinfo=UTC)
    assert add_months(NOW, 12) == datetime(2027, 1, 31, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("amount", "part", "whole", "expected"),
    [(3000, 1, 2, 1500), (1000, 1, 3, 333), (1000, 2, 3, 667), (-1000, 2, 3, -667), (5, 1, 2, 3)],
)
def test_prorate_rounds_half_away_from_zero(
    amount: int, part: int, whole: int, expected: int
) -> None:
    assert prorate(amount, part, whole) == expected


def test_plan_rejects_two_prices_for_one_metric() -> None:
    with pytest.raises(errors.InvalidPlan):
        new_plan(
            plan_id="x",
            display_name="X",
            currency="USD",
            interval=Interval.MONTH,
            prices=(Price("m", PerUnit(1)), Price("m", PerUnit(2))),
            now=NOW,
        )


@pytest.mark.parametrize(
    "tiers",
    [
        (Tier(10, 1),),  # last tier bounded
        (Tier(None, 1), Tier(None, 1)),  # unbounded before the last
        (Tier(10, 1), Tier(5, 1), Tier(None, 1)),  # not increasing
    ],
)
def test_plan_rejects_bad_tiers(tiers: tuple[Tier, ...]) -> None:
    with pytest.raises(errors.InvalidPlan):
        new_plan(
            plan_id="x",
            display_name="X",
            currency="USD",
            interval=Interval.MONTH,
            prices=(Price("m", Tiered(TierMode.GRADUATED, tiers)),),
            now=NOW,
        )


def test_plan_rejects_unknown_currency() -> None:
    with pytest.raises(errors.UnsupportedCurrency):
        plan(currency="XXX")


def test_change_plan_prorates_flat_fees_by_the_second() -> None:
    old, new = plan("basic", 1000), plan("team", 4000)
    sub = start_subscription(subscription_id="s1", org_id="o1", plan=old, now=NOW)
    whole = sub.current_period_end - sub.current_period_start
    halfway = sub.current_period_start + whole / 2
    changed, adjustments = sub.change_plan(old, new, halfway)
    assert changed.plan_id == "team"
    assert [a.amount_minor for a in adjustments] == [500, -2000]


def test_change_plan_refuses_other_currency_and_same_plan() -> None:
    old = plan("basic")
    sub = start_subscription(subscription_id="s1", org_id="o1", plan=old, now=NOW)
    with pytest.raises(errors.CurrencyMismatch):
        sub.change_plan(old, plan("euro", currency="EUR"), NOW)
    with pytest.raises(errors.SamePlan):
        sub.change_plan(old, old, NOW)


def test_cancel_now_and_at_period_end() -> None:
    sub = start_subscription(subscription_id="s1", org_id="o1", plan=plan(), now=NOW)
    assert sub.cancel(NOW, at_period_end=False).state is SubscriptionState.CANCELED
    scheduled = sub.cancel(NOW, at_period_end=True)
    assert scheduled.active and scheduled.cancel_at_period_end
    ended = scheduled.advance_period(1, scheduled.current_period_end)
    assert ended.state is SubscriptionState.CANCELED


def test_early_close_ends_the_period_now_and_runs_to_the_next_boundary() -> None:
    sub = start_subscription(subscription_id="s1", org_id="o1", plan=plan(), now=NOW)
    closed_at = NOW + timedelta(days=3)
    after = sub.advance_period(1, closed_at)
    assert after.current_period_start == closed_at
    assert after.current_period_end == datetime(2026, 3, 31, 12, tzinfo=UTC)


def test_invoice_lines_and_total() -> None:
    p = plan()
    sub = start_subscription(subscription_id="s1", org_id="o1", plan=p, now=NOW)
    invoice = issue_invoice(
        invoice_id="i1",
        subscription=sub,
        plan=p,
        quantities={"items.confirmed": 130},
        adjustments=(),
        now=sub.current_period_end,
    )
    assert [(line.kind, line.amount_minor) for line in invoice.lines] == [
        (LineKind.FLAT, 3000),
        (LineKind.USAGE, 150),
    ]
    assert invoice.total.amount_minor == 3150
    assert invoice.period_end == sub.current_period_end


def test_invoice_state_machine() -> None:
    p = plan()
    sub = start_subscription(subscription_id="s1", org_id="o1", plan=p, now=NOW)
    invoice = issue_invoice(
        invoice_id="i1", subscription=sub, plan=p, quantities={}, adjustments=(), now=NOW
    )
    failed = invoice.mark_payment_failed("INSUFFICIENT_FUNDS", NOW)
    assert failed.state is InvoiceState.OPEN and failed.payment_attempts == 1
    paid = failed.mark_paid("tx1", NOW)
    assert paid.state is InvoiceState.PAID and paid.last_payment_error == ""
    with pytest.raises(errors.InvoiceAlreadyPaid):
        paid.void(NOW)
    assert invoice.void(NOW).state is InvoiceState.VOID
    with pytest.raises(errors.InvoiceNotOpen):
        invoice.void(NOW).mark_payment_failed("X", NOW)


def test_failed_collections_are_retried_on_schedule_then_uncollectible() -> None:
    p = plan()
    sub = start_subscription(subscription_id="s1", org_id="o1", plan=p, now=NOW)
    invoice = issue_invoice(
        invoice_id="i1", subscription=sub, plan=p, quantities={}, adjustments=(), now=NOW
    )
    schedule = (timedelta(days=1), timedelta(days=3), timedelta(days=5))
    retries = []
    for day in (0, 1, 3, 5):
        invoice = invoice.mark_payment_failed(
            "INSUFFICIENT_FUNDS", NOW + timedelta(days=day), schedule
        )
        retries.append(invoice.next_payment_attempt_time)
    # Counted from the first failure; none after the last retry.
    assert retries == [NOW + timedelta(days=d) for d in (1, 3, 5)] + [None]
    assert invoice.state is InvoiceState.UNCOLLECTIBLE
    assert invoice.first_payment_failure_time == NOW
    # A retry made late is never scheduled in the past.
    late = issue_invoice(
        invoice_id="i2", subscription=sub, plan=p, quantities={}, adjustments=(), now=NOW
    ).mark_payment_failed("X", NOW, schedule)
    late = late.mark_payment_failed("X", NOW + timedelta(days=4), schedule)
    assert late.next_payment_attempt_time == NOW + timedelta(days=4)


def test_amounts_beyond_int64_are_refused() -> None:
    p = new_plan(
        plan_id="huge",
        display_name="Huge",
        currency="USD",
        interval=Interval.MONTH,
        prices=(Price("m", PerUnit(2**62)),),
        now=NOW,
    )
    sub = start_subscription(subscription_id="s1", org_id="o1", plan=p, now=NOW)
    with pytest.raises(errors.AmountOverflow):
        issue_invoice(
            invoice_id="i1", subscription=sub, plan=p, quantities={"m": 4}, adjustments=(), now=NOW
        )


def test_aggregations() -> None:
    records = [
        UsageRecord(f"r{i}", "o1", "m", q, f"k{i}", NOW, NOW, distinct_value=d)
        for i, (q, d) in enumerate([(3, "a"), (7, "b"), (2, "a"), (0, "")])
    ]
    assert aggregate(records, Aggregation.SUM) == (12, 4)
    assert aggregate(records, Aggregation.COUNT) == (4, 4)
    assert aggregate(records, Aggregation.MAX) == (7, 4)
    assert aggregate(records, Aggregation.UNIQUE_COUNT) == (2, 4)
    assert aggregate(records, Aggregation.MIN) == (0, 4)
    assert aggregate(records, Aggregation.AVG) == (3, 4)  # 12 / 4
    assert aggregate([], Aggregation.AVG) == (0, 0)


def test_latest_is_the_last_by_event_time_then_by_arrival() -> None:
    later = NOW + timedelta(seconds=1)
    records = [
        UsageRecord("r1", "o1", "m", 4, "k1", later, NOW),
        UsageRecord("r2", "o1", "m", 9, "k2", NOW, later),  # arrived last, happened first
        UsageRecord("r3", "o1", "m", 6, "k3", later, later),  # same time as r1, arrived later
    ]
    assert aggregate(records, Aggregation.LATEST) == (6, 3)


def test_webhook_signature_is_hmac_sha256_over_timestamp_and_body() -> None:
    header = signature_header("whsec_test", 1700000000, b'{"a":1}')
    assert header == (
        "t=1700000000,v1="
        + __import__("hmac").new(b"whsec_test", b'1700000000.{"a":1}', "sha256").hexdigest()
    )


def test_usage_counts_under_its_period_or_the_next_when_dated_past_the_end() -> None:
    end = NOW + timedelta(days=30)
    period = TallyPeriod(NOW, end)
    assert period.start_for(NOW) == NOW
    assert period.start_for(end - timedelta(microseconds=1)) == NOW
    assert period.start_for(end) == end
    assert period.start_for(end + timedelta(minutes=3)) == end
    # Without a subscription: one start for everything recorded.
    assert TallyPeriod(NOW).start_for(end) == NOW
