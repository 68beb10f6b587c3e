"""Request context: principal parsing, trace context rules, outgoing metadata."""

from __future__ import annotations

import re

import pytest

from keel_runtime import context
from keel_runtime.context import Principal
from keel_runtime.errors import Unauthenticated

TRACEPARENT = re.compile(r"00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}")


def test_principal_round_trips_through_json() -> None:
    principal = Principal.from_header(
        '{"sub": "u1", "org": "o1", "roles": ["admin", "viewer"], "scopes": ["ledger:read"],'
        ' "kind": "api_key"}'
    )
    assert principal == Principal(
        subject="u1",
        org_id="o1",
        roles=frozenset({"admin", "viewer"}),
        scopes=frozenset({"ledger:read"}),
        kind="api_key",
    )
    assert Principal.from_header(principal.to_header()) == principal


@pytest.mark.parametrize(
    "raw",
    [
        "{",
        "[]",
        '{"sub": ""}',
        '{"sub": 5}',
        '{"sub": "u", "roles": "admin"}',
        '{"sub": "u", "kind": "robot"}',
    ],
)
def test_malformed_principal_is_rejected(raw: str) -> None:
    with pytest.raises(ValueError):
        Principal.from_header(raw)


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
    principal = Principal(subject="svc-billing", kind="service")
    with context.bound(request_id="r-1", tracestate="k=v", principal=principal):
        md = dict(context.outgoing_metadata())
        assert md["x-request-id"] == "r-1"
        assert TRACEPARENT.fullmatch(md["traceparent"])
        assert md["tracestate"] == "k=v"
        assert Principal.from_header(md["x-keel-principal"]) == principal
        assert context.current_trace_id() == md["traceparent"][3:35]
    assert context.current_request_id() == ""
    assert context.current_principal() is None


def test_request_id_is_accepted_only_when_safe() -> None:
    assert context.accept_request_id("abc-123_x.y:z") == "abc-123_x.y:z"
    for unsafe in (None, "", "a b", "x" * 129, '{"json":1}'):
        assert re.fullmatch(r"[0-9a-f]{32}", context.accept_request_id(unsafe))


def test_principal_from_gateway_base64url_payload() -> None:
    # What Envoy's jwt_authn forwards: the verified JWT payload, base64url without padding.
    import base64
    import json

    claims = {
        "iss": "keel-identity",
        "sub": "u1",
        "org": "o1",
        "roles": ["OWNER"],
        "scope": "items:write ledger:read",
        "kind": "user",
        "exp": 1,
    }
    raw = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    principal = Principal.from_header(raw)
    assert principal.subject == "u1"
    assert principal.org_id == "o1"
    assert principal.roles == frozenset({"OWNER"})
    assert principal.scopes == frozenset({"items:write", "ledger:read"})
    assert Principal.from_header(principal.to_header()) == principal


def test_principal_header_that_is_not_base64_json_is_rejected() -> None:
    with pytest.raises(ValueError):
        Principal.from_header("not*base64")
