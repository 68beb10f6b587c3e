"""The one Timestamp conversion: aware datetimes in any zone, unset fields as None."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from keel.ledger.v1 import account_service_pb2

from keel_runtime.errors import ValidationFailed
from keel_runtime.timestamps import field_time, from_timestamp, timestamp


def test_a_datetime_in_any_zone_round_trips_as_utc() -> None:
    at = datetime(2026, 12, 4, 20, 0, 1, 250_000, tzinfo=timezone(timedelta(hours=2)))
    message = timestamp(at)
    assert message == Timestamp(seconds=int(at.timestamp()), nanos=250_000_000)
    assert from_timestamp(message) == at
    assert from_timestamp(message).tzinfo is UTC


def test_unset_is_none_both_ways() -> None:
    assert timestamp(None) is None
    request = account_service_pb2.GetBalanceRequest(account_id="a")
    assert field_time(request, "as_of_time") is None
    request.as_of_time.CopyFrom(Timestamp(seconds=0))
    assert field_time(request, "as_of_time") == datetime(1970, 1, 1, tzinfo=UTC)


def test_a_time_outside_the_range_names_its_field() -> None:
    request = account_service_pb2.GetBalanceRequest(account_id="a")
    request.as_of_time.seconds = 10**12
    with pytest.raises(ValidationFailed) as refused:
        field_time(request, "as_of_time", path="balance.as_of_time")
    assert [v.field for v in refused.value.violations] == ["balance.as_of_time"]
