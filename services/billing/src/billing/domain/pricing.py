"""Price models and their exact integer math: flat, per-unit, tiered and package."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from fractions import Fraction


class Aggregation(enum.Enum):
    """How a period's usage records of one metric become one billed quantity."""

    SUM = "sum"
    COUNT = "count"
    MAX = "max"
    UNIQUE_COUNT = "unique_count"
    LATEST = "latest"  # quantity of the record with the latest event time
    MIN = "min"
    AVG = "avg"  # exact (a fraction); its amount is rounded half-even to a minor unit


class TierMode(enum.Enum):
    GRADUATED = "graduated"  # each unit priced by the bracket it falls in
    VOLUME = "volume"  # every unit priced by the bracket the total falls in


@dataclass(frozen=True, slots=True)
class Flat:
    amount_minor: int


@dataclass(frozen=True, slots=True)
class PerUnit:
    unit_amount_minor: int


@dataclass(frozen=True, slots=True)
class Tier:
    up_to: int | None  # inclusive upper bound; None on the last, unbounded bracket
    unit_amount_minor: int
    flat_amount_minor: int = 0


@dataclass(frozen=True, slots=True)
class Tiered:
    mode: TierMode
    tiers: tuple[Tier, ...]


@dataclass(frozen=True, slots=True)
class Package:
    package_size: int
    package_amount_minor: int


Model = Flat | PerUnit | Tiered | Package


@dataclass(frozen=True, slots=True)
class Price:
    """What one metric (or, with an empty metric, a flat fee) costs per period."""

    metric: str
    model: Model
    aggregation: Aggregation = Aggregation.SUM
    included_quantity: int = 0
    description: str = ""

    @property
    def is_flat_fee(self) -> bool:
        return isinstance(self.model, Flat)

    def amount_for(self, quantity: int | Fraction) -> int:
        """Minor units owed for a period's aggregated quantity (the allowance is free).

        A fractional quantity (an average) is priced exactly, then rounded once, half to
        even, to a whole minor unit.
        """
        if isinstance(self.model, Flat):
            return self.model.amount_minor
        billable = max(0, quantity - self.included_quantity)
        if billable == 0:
            return 0
        if isinstance(self.model, PerUnit):
            return round(billable * self.model.unit_amount_minor)
        if isinstance(self.model, Package):
            packages = -(-billable // self.model.package_size)  # ceiling without floats
            return int(packages) * self.model.package_amount_minor
        return round(_tiered_amount(self.model, billable))


def _tiered_amount(price: Tiered, billable: int | Fraction) -> int | Fraction:
    if price.mode is TierMode.VOLUME:
        for tier in price.tiers:
            if tier.up_to is None or billable <= tier.up_to:
                return billable * tier.unit_amount_minor + tier.flat_amount_minor
        raise AssertionError("validated tiers always end unbounded")
    total: int | Fraction = 0
    lower = 0
    for tier in price.tiers:
        upper = billable if tier.up_to is None else min(billable, tier.up_to)
        if upper <= lower:
            break
        total += (upper - lower) * tier.unit_amount_minor + tier.flat_amount_minor
        if tier.up_to is None:
            break
        lower = tier.up_to
    return total
