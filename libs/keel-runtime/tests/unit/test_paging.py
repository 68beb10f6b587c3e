"""Page tokens: opaque, bound to their query, refused as INVALID_ARGUMENT when not ours."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime

import pytest

from keel_runtime import paging

QUERY = paging.query_digest("ListInvoices", "org-1", "OPEN")


def test_a_token_round_trips_its_cursor() -> None:
    token = paging.encode(["2026-12-04T10:00:00+00:00", "inv-1"], QUERY)
    assert paging.decode(token, QUERY, (str, str)) == ["2026-12-04T10:00:00+00:00", "inv-1"]
    assert paging.decode("", QUERY, (str, str)) is None  # the first page
    when, row = datetime(2026, 12, 4, 10, tzinfo=UTC), str(uuid.uuid4())
    assert paging.decode_time_key(paging.encode_time_key(when, row, QUERY), QUERY) == (when, row)


def test_a_token_of_another_query_is_refused_naming_the_field() -> None:
    token = paging.encode([42], QUERY)
    other = paging.query_digest("ListInvoices", "org-1", "PAID")
    with pytest.raises(paging.InvalidPageToken) as caught:
        paging.decode(token, other, (int,))
    assert caught.value.reason == "INVALID_PAGE_TOKEN"
    assert [v.field for v in caught.value.violations] == ["page_token"]


def _forged(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "token",
    [
        "%%%",
        "bm90IGpzb24",
        _forged([1, 2]),
        _forged({"c": [1]}),
        _forged({"c": "1", "q": QUERY}),
        _forged({"c": [True], "q": QUERY}),
        _forged({"c": ["1"], "q": QUERY}),
        _forged({"c": [1, 2], "q": QUERY}),
        _forged({"c": [1e400], "q": QUERY}),
    ],
)
def test_edited_or_malformed_tokens_are_refused(token: str) -> None:
    with pytest.raises(paging.InvalidPageToken):
        paging.decode(token, QUERY, (int,))


@pytest.mark.parametrize(
    "cursor", [["yesterday", str(uuid.uuid4())], ["2026-12-04T10:00:00", "1; DROP TABLE x"]]
)
def test_a_time_key_that_is_no_time_and_uuid_is_refused(cursor: list[str]) -> None:
    with pytest.raises(paging.InvalidPageToken):
        paging.decode_time_key(paging.encode(cursor, QUERY), QUERY)


def test_the_digest_depends_on_every_filter_and_their_order() -> None:
    assert paging.query_digest("a", 1) == paging.query_digest("a", 1)
    assert paging.query_digest("a", 1) != paging.query_digest("a", 2)
    assert paging.query_digest("a", "b") != paging.query_digest("b", "a")
    assert paging.query_digest("a", None) != paging.query_digest("a", "")


def test_page_size_defaults_and_caps() -> None:
    assert paging.page_size(0) == paging.DEFAULT_PAGE_SIZE
    assert paging.page_size(-5) == paging.DEFAULT_PAGE_SIZE
    assert paging.page_size(7) == 7
    assert paging.page_size(10_000) == paging.MAX_PAGE_SIZE
