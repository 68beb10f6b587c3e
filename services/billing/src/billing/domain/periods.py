"""Calendar period arithmetic for billing intervals anchored on a start instant."""

from __future__ import annotations

import calendar
from datetime import datetime


def add_months(anchor: datetime, months: int) -> datetime:
    """`anchor` moved by whole months, clamping the day (Jan 31 + 1 month = Feb 28/29)."""
    index = anchor.month - 1 + months
    year, month = anchor.year + index // 12, index % 12 + 1
    day = min(anchor.day, calendar.monthrange(year, month)[1])
    return anchor.replace(year=year, month=month, day=day)


def months_between(anchor: datetime, later: datetime) -> int:
    return (later.year - anchor.year) * 12 + later.month - anchor.month


def next_period_end(anchor: datetime, period_end: datetime, interval_months: int) -> datetime:
    """End of the period after the one ending at `period_end` (always from the anchor,
    so a clamped February does not drift the anchor day of later periods)."""
    return add_months(anchor, months_between(anchor, period_end) + interval_months)


def prorate(amount_minor: int, part_seconds: int, whole_seconds: int) -> int:
    """amount * part / whole in integers, rounded half away from zero."""
    if whole_seconds <= 0:
        return 0
    numerator = abs(amount_minor) * part_seconds * 2 + whole_seconds
    result = numerator // (2 * whole_seconds)
    return result if amount_minor >= 0 else -result
