"""Request context: principals, trace context rules, outgoing metadata."""

from __future__ import annotations

import re

import pytest

from keel_runtime import context
from keel_runtime.context import Principal
from keel_runtime.errors import Unauthenticated

TRACEPARENT = re.compile(r"00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}")


@pytest.mark.parametrize("subject,kind", [("", "user"), ("u", "robot")])
def test_a_principal_needs_a_subject_and_a_known_kind(subject: str, kind: str) -> None:
    with pytest.raises(ValueError):
        Principal(subject=subject, kind=kind)


def test_require_principal_outside_a_call_raises() -> None:
    with pytest.raises(Unauthenticated) as caught:
        context.require_principal()
    assert caught.value.reason == "PRINCIPAL_REQUIRED"


def test_child_traceparent_keeps_trace_and_flags() -> None:
    incoming = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"
    child = context.child_traceparent(incoming)
    assert child.startswith("00-0af7651916cd43dd8448eb211c80319c-")
    assert child.endswith("-00")
    assert child.split("-")[2] != "b7ad6b7169203331"


@pytest.mark.parametrize(
    "incoming",
    [
        None,
        "garbage",
        "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        "00-00000000000000000000000000000000-b7ad6b7169203331-01",
        "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra",
    ],
)
def test_invalid_traceparent_starts_a_new_trace(incoming: str | None) -> None:
    child = context.child_traceparent(incoming)
    assert TRACEPARENT.fullmatch(child)
    assert "0af7651916cd43dd8448eb211c80319c" not in child


def test_future_version_traceparent_is_continued() -> None:
    child = context.child_traceparent(
        "01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-future"
    )
    assert child.split("-")[1] == "0af7651916cd43dd8448eb211c80319c"


def test_outgoing_metadata_carries_the_bound_context() -> None:
    assert context.outgoing_metadata() == []
    user = Principal(subject="u1", org_id="o1", credential="header.payload.signature")
    with context.bound(request_id="r-1", tracestate="k=v", principal=user):
        md = dict(context.outgoing_metadata())
        assert md["x-request-id"] == "r-1"
        assert TRACEPARENT.fullmatch(md["traceparent"])
        assert md["tracestate"] == "k=v"
        # The user's own token travels on, for the next service to verify; nothing else
        # says who the user is.
        assert md["authorization"] == "Bearer header.payload.signature"
        assert "x-keel-org" not in md
        assert context.current_trace_id() == md["traceparent"][3:35]
    assert context.current_request_id() == ""
    assert context.current_principal() is None


def test_a_platform_principal_forwards_only_the_organization_it_acts_for() -> None:
    billing = Principal(subject="billing", org_id="o1", kind="service")
    with context.bound(principal=billing):
        md = dict(context.outgoing_metadata())
    assert md["x-keel-org"] == "o1" and "authorization" not in md
    with context.bound(principal=Principal(subject="operator", kind="operator")):
        md = dict(context.outgoing_metadata())
    assert "x-keel-org" not in md and "authorization" not in md


def test_request_id_is_accepted_only_when_safe() -> None:
    assert context.accept_request_id("abc-123_x.y:z") == "abc-123_x.y:z"
    for unsafe in (None, "", "a b", "x" * 129, '{"json":1}'):
        assert re.fullmatch(r"[0-9a-f]{32}", context.accept_request_id(unsafe))
