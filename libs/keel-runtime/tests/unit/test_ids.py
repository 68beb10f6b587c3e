"""The one id generator: version-7 UUIDs that sort by creation time."""

from __future__ import annotations

import time
import uuid

from keel_runtime.ids import new_id, uuid7


def test_ids_are_version_7_of_the_rfc_variant() -> None:
    value = uuid7()
    assert (value.version, value.variant) == (7, uuid.RFC_4122)
    assert uuid.UUID(new_id()).version == 7


def test_ids_carry_the_time_they_were_made() -> None:
    before = time.time_ns() // 1_000_000
    value = uuid7()
    after = time.time_ns() // 1_000_000
    assert before <= value.int >> 80 <= after


def test_later_ids_sort_after_earlier_ones_across_milliseconds() -> None:
    first = uuid7()
    time.sleep(0.002)
    assert uuid7() > first and new_id() > str(first)


def test_ids_do_not_repeat() -> None:
    assert len({new_id() for _ in range(10_000)}) == 10_000
