"""The dunning schedule setting."""

from __future__ import annotations

from datetime import timedelta

import pytest

from billing.config import parse_schedule


def test_schedule_parses_durations() -> None:
    assert parse_schedule("1d,3d,5d") == tuple(timedelta(days=d) for d in (1, 3, 5))
    assert parse_schedule(" 90s , 2h ") == (timedelta(seconds=90), timedelta(hours=2))


@pytest.mark.parametrize("text", ["", "3d,1d", "1d,1d", "0s", "5", "1w", "1d;3d"])
def test_schedule_refuses_what_it_cannot_mean(text: str) -> None:
    with pytest.raises(ValueError):
        parse_schedule(text)
