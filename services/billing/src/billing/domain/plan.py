"""Plan aggregate: a currency, a billing interval and prices that never change."""

from __future__ import annotations

import enum
import itertools
from dataclasses import dataclass, replace
from datetime import datetime

from billing.domain.errors import InvalidPlan
from billing.domain.money import MAX_PERIOD_AMOUNT, currency_scale
from billing.domain.pricing import Flat, Package, Price, Tiered


class Interval(enum.Enum):
    MONTH = "month"
    YEAR = "year"

    @property
    def months(self) -> int:
        return 1 if self is Interval.MONTH else 12


@dataclass(frozen=True, slots=True)
class Plan:
    plan_id: str
    display_name: str
    currency: str
    interval: Interval
    prices: tuple[Price, ...]
    create_time: datetime
    archive_time: datetime | None = None
    is_default: bool = False

    @property
    def archived(self) -> bool:
        return self.archive_time is not None

    @property
    def flat_fees(self) -> int:
        """Sum of the plan's flat fees per period, in minor units."""
        return sum(p.model.amount_minor for p in self.prices if isinstance(p.model, Flat))

    def price_for(self, metric: str) -> Price | None:
        return next((p for p in self.prices if p.metric == metric and not p.is_flat_fee), None)

    def same_terms(self, other: Plan) -> bool:
        """True when `other` describes the same offer (for idempotent creates)."""
        return (self.display_name, self.currency, self.interval, self.prices) == (
            other.display_name,
            other.currency,
            other.interval,
            other.prices,
        )

    def archive(self, now: datetime) -> Plan:
        return self if self.archived else replace(self, archive_time=now)


def new_plan(
    *,
    plan_id: str,
    display_name: str,
    currency: str,
    interval: Interval,
    prices: tuple[Price, ...],
    now: datetime,
) -> Plan:
    """Build a plan, checking the invariants protovalidate cannot express."""
    currency_scale(currency)
    seen: set[str] = set()
    for price in prices:
        if price.is_flat_fee:
            if price.metric:
                raise InvalidPlan("a flat fee has no metric", metric=price.metric)
            continue
        if not price.metric:
            raise InvalidPlan("a usage price needs a metric")
        if price.metric in seen:
            raise InvalidPlan("at most one price per metric", metric=price.metric)
        seen.add(price.metric)
        _check_model(price)
    plan = Plan(
        plan_id=plan_id,
        display_name=display_name or plan_id,
        currency=currency,
        interval=interval,
        prices=prices,
        create_time=now,
    )
    # Usage is bounded so every period can be priced; the fees alone must be too, or no
    # period of the plan could ever close (nor its subscription be cancelled).
    if plan.flat_fees > MAX_PERIOD_AMOUNT:
        raise InvalidPlan(
            f"the flat fees of a period may total at most {MAX_PERIOD_AMOUNT} minor units",
            limit=str(MAX_PERIOD_AMOUNT),
        )
    return plan


def _check_model(price: Price) -> None:
    model = price.model
    if isinstance(model, Package) and model.package_size <= 0:
        raise InvalidPlan("package size must be positive", metric=price.metric)
    if isinstance(model, Tiered):
        if not model.tiers or model.tiers[-1].up_to is not None:
            raise InvalidPlan("the last tier must be unbounded", metric=price.metric)
        bounds = [t.up_to for t in model.tiers[:-1]]
        if None in bounds:
            raise InvalidPlan("only the last tier may be unbounded", metric=price.metric)
        known = [b for b in bounds if b is not None]
        if any(a >= b for a, b in itertools.pairwise(known)):
            raise InvalidPlan("tier bounds must increase", metric=price.metric)
