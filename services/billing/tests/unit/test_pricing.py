"""Pricing math is exact in integers: flat, per-unit, package, graduated and volume tiers."""

from __future__ import annotations

from fractions import Fraction

import pytest

from billing.domain.pricing import Flat, Package, PerUnit, Price, Tier, Tiered, TierMode

TIERS = (Tier(100, 10), Tier(1000, 5, flat_amount_minor=200), Tier(None, 1))


def price(model: Flat | PerUnit | Package | Tiered, included: int = 0) -> Price:
    return Price(metric="items.confirmed", model=model, included_quantity=included)


def test_flat_ignores_quantity() -> None:
    fee = Price(metric="", model=Flat(4900))
    assert fee.amount_for(0) == 4900
    assert fee.amount_for(10**6) == 4900


@pytest.mark.parametrize(
    ("quantity", "included", "expected"),
    [(0, 0, 0), (1, 0, 5), (100, 100, 0), (101, 100, 5), (250, 100, 750)],
)
def test_per_unit_after_included(quantity: int, included: int, expected: int) -> None:
    assert price(PerUnit(5), included).amount_for(quantity) == expected


@pytest.mark.parametrize(
    ("quantity", "expected"), [(0, 0), (1, 300), (10, 300), (11, 600), (25, 900)]
)
def test_package_rounds_started_packages_up(quantity: int, expected: int) -> None:
    assert price(Package(10, 300)).amount_for(quantity) == expected


def test_package_counts_only_units_beyond_included() -> None:
    assert price(Package(10, 300), included=5).amount_for(15) == 300


@pytest.mark.parametrize(
    ("quantity", "expected"),
    [
        (0, 0),
        (1, 10),
        (100, 1000),
        # 100 x 10 + 1 x 5 + 200 flat for entering the second bracket
        (101, 1205),
        (1000, 1000 + 900 * 5 + 200),
        (1500, 1000 + 900 * 5 + 200 + 500 * 1),
    ],
)
def test_graduated_tiers(quantity: int, expected: int) -> None:
    assert price(Tiered(TierMode.GRADUATED, TIERS)).amount_for(quantity) == expected


@pytest.mark.parametrize(
    ("quantity", "expected"),
    [(0, 0), (100, 1000), (101, 101 * 5 + 200), (1000, 1000 * 5 + 200), (1001, 1001)],
)
def test_volume_tiers(quantity: int, expected: int) -> None:
    assert price(Tiered(TierMode.VOLUME, TIERS)).amount_for(quantity) == expected


def test_tiers_apply_after_included_quantity() -> None:
    graduated = price(Tiered(TierMode.GRADUATED, TIERS), included=50)
    assert graduated.amount_for(150) == 1000


def test_large_quantities_stay_exact() -> None:
    big = 9_000_000_000_000
    assert price(PerUnit(1_000)).amount_for(big) == big * 1_000


@pytest.mark.parametrize(
    ("model", "average", "expected"),
    [
        # Exact, then one rounding half to even to a whole minor unit.
        (PerUnit(1), Fraction(9, 2), 4),  # 4.5 -> 4
        (PerUnit(1), Fraction(11, 2), 6),  # 5.5 -> 6
        (PerUnit(3), Fraction(19, 4), 14),  # 14.25 -> 14
        (PerUnit(3), Fraction(7, 3), 7),  # 7 exactly
        # A started package is a package: 10.5 units of 10 is two.
        (Package(10, 300), Fraction(21, 2), 600),
        # Graduated: 100 x 10 + 200 + 0.5 x 5 = 1202.5 -> 1202.
        (Tiered(TierMode.GRADUATED, TIERS), Fraction(201, 2), 1202),
        # Volume: 100.5 units in the second bracket: 502.5 + 200 = 702.5 -> 702.
        (Tiered(TierMode.VOLUME, TIERS), Fraction(201, 2), 702),
    ],
)
def test_an_average_is_priced_exactly_and_rounded_half_to_even(
    model: PerUnit | Package | Tiered, average: Fraction, expected: int
) -> None:
    assert price(model).amount_for(average) == expected
