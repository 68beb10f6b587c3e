"""Subscription aggregate: one organization on one plan, billed period by period."""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from datetime import datetime

from billing.domain.errors import CurrencyMismatch, PlanArchived, SamePlan, SubscriptionNotActive
from billing.domain.periods import add_months, next_period_end, prorate
from billing.domain.plan import Plan


class SubscriptionState(enum.Enum):
    ACTIVE = "active"
    CANCELED = "canceled"


@dataclass(frozen=True, slots=True)
class Adjustment:
    """A proration charge (positive) or credit (negative) for the next invoice."""

    description: str
    amount_minor: int


@dataclass(frozen=True, slots=True)
class Subscription:
    subscription_id: str
    org_id: str
    plan_id: str
    state: SubscriptionState
    anchor: datetime  # periods are whole intervals from here
    current_period_start: datetime
    current_period_end: datetime
    create_time: datetime
    cancel_time: datetime | None = None
    cancel_at_period_end: bool = False
    version: int = 0  # of the row this was read from; saving checks it

    @property
    def active(self) -> bool:
        return self.state is SubscriptionState.ACTIVE

    def require_active(self) -> None:
        if not self.active:
            raise SubscriptionNotActive(
                "subscription is not active", subscription_id=self.subscription_id
            )

    def change_plan(
        self, old: Plan, new: Plan, now: datetime
    ) -> tuple[Subscription, tuple[Adjustment, ...]]:
        """Move to `new` now; return the subscription and its proration adjustments.

        Periods are billed in arrears on the plan in force at their end, so the elapsed
        share of the period is charged at the old plan's flat fees and credited at the
        new plan's.
        """
        self.require_active()
        if new.plan_id == self.plan_id:
            raise SamePlan("subscription is already on this plan", plan_id=new.plan_id)
        if new.archived:
            raise PlanArchived("plan is archived", plan_id=new.plan_id)
        if new.currency != old.currency:
            raise CurrencyMismatch(
                "plans differ in currency", current=old.currency, requested=new.currency
            )
        elapsed, whole = self.elapsed_share(now)
        adjustments = tuple(
            a
            for a in (
                Adjustment(
                    f"{old.display_name} (prorated)", prorate(old.flat_fees, elapsed, whole)
                ),
                Adjustment(
                    f"{new.display_name} (prorated credit)", -prorate(new.flat_fees, elapsed, whole)
                ),
            )
            if a.amount_minor != 0
        )
        return replace(self, plan_id=new.plan_id), adjustments

    def cancel(self, now: datetime, *, at_period_end: bool) -> Subscription:
        """Cancel now, or schedule the end of the current period. Idempotent."""
        if not self.active:
            return self
        if at_period_end:
            return replace(self, cancel_at_period_end=True, cancel_time=self.current_period_end)
        return replace(
            self, state=SubscriptionState.CANCELED, cancel_time=now, cancel_at_period_end=False
        )

    def elapsed_share(self, now: datetime) -> tuple[int, int]:
        """(elapsed, whole) seconds of the open period at `now`."""
        whole = int((self.current_period_end - self.current_period_start).total_seconds())
        elapsed = int((self.closing_end(now) - self.current_period_start).total_seconds())
        return max(0, elapsed), whole

    def end_now(self, now: datetime) -> Subscription:
        """Canceled now, its open period closed by a final invoice (which the caller issues)."""
        self.require_active()
        return replace(
            self,
            state=SubscriptionState.CANCELED,
            cancel_time=now,
            cancel_at_period_end=False,
            current_period_start=self.closing_end(now),
        )

    def closing_end(self, now: datetime) -> datetime:
        """End of the period being closed: its nominal end, or now when closed early."""
        return min(now, self.current_period_end)

    def advance_period(self, interval_months: int, now: datetime) -> Subscription:
        """The subscription after its current period closes (ended if scheduled to).

        An early close ends the period now; the next one runs to the next anchored
        boundary, so no usage falls between periods and no flat fee is charged twice.
        """
        closed_at = self.closing_end(now)
        if self.cancel_at_period_end:
            return replace(self, state=SubscriptionState.CANCELED, cancel_time=closed_at)
        end = next_period_end(self.anchor, self.current_period_end, interval_months)
        return replace(self, current_period_start=closed_at, current_period_end=end)


def start_subscription(
    *,
    subscription_id: str,
    org_id: str,
    plan: Plan,
    now: datetime,
    start: datetime | None = None,
) -> Subscription:
    """A subscription created `now`, its first period from `start` (default: now)."""
    if plan.archived:
        raise PlanArchived("plan is archived", plan_id=plan.plan_id)
    start = now if start is None else start
    return Subscription(
        subscription_id=subscription_id,
        org_id=org_id,
        plan_id=plan.plan_id,
        state=SubscriptionState.ACTIVE,
        anchor=start,
        current_period_start=start,
        current_period_end=add_months(start, plan.interval.months),
        create_time=now,
    )
