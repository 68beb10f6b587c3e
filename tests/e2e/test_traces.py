"""One REST call through the gateway is one trace, rooted at Envoy's span: the service's
server span under it, its calls to other services, the events it published and the
consumers that handled them (a sign-up's, in the ledger and billing), read back from the
files `make run` writes (Envoy's through the stack's OTLP receiver) and printed by
`python -m keel_runtime.traces`. Every log line of the call names the same request id and
trace."""

from __future__ import annotations

import json
import re
import secrets
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from e2e_support import (
    Json,
    Tenant,
    access_log,
    new_email,
    post_json,
    sign_up_body,
    wait_for,
    wait_subscription,
    wait_wallet,
)

from keel_devstack.stack import Endpoints, repo_root
from keel_runtime import traces

pytestmark = pytest.mark.e2e

METRIC = "items.confirmed"
FAILED = "billing.invoice.payment_failed"
LEDGER = "keel.ledger.v1."
SIGNED_UP = "identity.organization.created"
GATEWAY = "gateway"  # the service name of Envoy's spans (gateway/render.py)
Span = dict[str, Any]


def _open_invoice(gateway: httpx.Client, tenant: Tenant) -> Json:
    """An open invoice the tenant's empty wallet cannot pay: usage beyond the plan's free
    quantity, then the period closed."""
    wait_wallet(gateway, tenant)
    subscription = wait_subscription(gateway, tenant)
    usage = {"metric": METRIC, "quantity": "150", "dedupKey": f"trace-{uuid.uuid4()}"}
    post_json(gateway, "/v1/usage:record", tenant, {"usage": usage})
    path = f"/v1/subscriptions/{subscription['subscriptionId']}:closeBillingPeriod"
    invoice: Json = post_json(gateway, path, tenant, {"requestId": str(uuid.uuid4())})["invoice"]
    assert int(invoice["total"]["amount"]) > 0, invoice
    return invoice


def _spans_of(directory: Path, rid: str) -> list[Span]:
    found = traces.traces_of(traces.read_spans(directory), rid)
    assert len(found) <= 1, f"request {rid} is in {len(found)} traces"
    return next(iter(found.values()), [])


def _gateway_root(spans: list[Span], rid: str) -> Span:
    """Envoy's server span, the root of the trace, naming the call's request id."""
    (root,) = [s for s in spans if s["service"] == GATEWAY]
    assert root["kind"] == "SERVER" and root["parent_id"] is None, root
    assert [s for s in spans if s["parent_id"] is None] == [root]
    assert root["attributes"]["keel.request_id"] == rid
    return root


def _complete(directory: Path, rid: str) -> list[Span] | None:
    """The trace once every process has written its part: the gateway's span, the span of
    the event's publication by billing's relay, and the ledger's span of each call billing
    made (each writes on its own clock)."""
    spans = _spans_of(directory, rid)
    routed = any(s["service"] == GATEWAY for s in spans)
    published = any(s["name"] == f"publish {FAILED}" for s in spans)
    calls = {s["span_id"] for s in spans if s["kind"] == "CLIENT" and s["name"].startswith(LEDGER)}
    answered = {s["parent_id"] for s in spans if s["kind"] == "SERVER" and s["service"] == "ledger"}
    return spans if routed and published and calls and calls <= answered else None


def _log_lines(mesh: Endpoints, trace_id: str, rid: str) -> dict[str, list[Json]]:
    """Every JSON log line of the mesh naming the trace or the request id, by process."""
    found: dict[str, list[Json]] = {}
    for name, path in mesh.logs.items():
        for line in Path(path).read_text(errors="replace").splitlines():
            if trace_id not in line and rid not in line:
                continue
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if record.get("trace_id") == trace_id or record.get("request_id") == rid:
                found.setdefault(name, []).append(record)
    return found


def _gateway_logged(mesh: Endpoints, rid: str) -> Json | None:
    """Envoy's access-log line of the call: Envoy writes it after replying."""
    for line in Path(mesh.logs["envoy"]).read_text(errors="replace").splitlines():
        if rid not in line:
            continue
        try:
            record: Json = json.loads(line)
        except ValueError:
            continue  # still being written
        if record.get("request_id") == rid:
            return record
    return None


def _one_request_in_every_line(mesh: Endpoints, trace_id: str, rid: str) -> dict[str, list[Json]]:
    """Once Envoy has logged the call: every line of every process naming the trace names
    the request id, and the other way round. Returns them by process."""
    wait_for(lambda: _gateway_logged(mesh, rid), f"the gateway's access-log line of {rid}")
    lines = _log_lines(mesh, trace_id, rid)
    for name, records in lines.items():
        for record in records:
            assert (record.get("request_id"), record.get("trace_id")) == (rid, trace_id), (
                name,
                record,
            )
    return lines


def test_a_rest_call_its_calls_and_its_events_are_one_trace(
    gateway: httpx.Client, tenant: Tenant, mesh: Endpoints
) -> None:
    assert mesh.traces, "the mesh runs with the local trace files, as make run does"
    directory = Path(mesh.traces)
    invoice = _open_invoice(gateway, tenant)
    rid = f"trace-{uuid.uuid4()}"
    declined = gateway.post(
        f"/v1/invoices/{invoice['invoiceId']}:pay",
        json={},
        headers={**tenant.auth, "x-request-id": rid},
    )
    assert declined.status_code == 400, declined.text  # the wallet is empty

    spans = wait_for(lambda: _complete(directory, rid), f"the whole trace of {rid}")
    by_id = {span["span_id"]: span for span in spans}

    def parent(span: Span) -> Span:
        return by_id[span["parent_id"]]

    root = _gateway_root(spans, rid)
    assert root["name"] == "POST /keel.billing.v1.InvoiceService/PayInvoice"
    assert root["attributes"]["http.status_code"] == "400"
    (server,) = [s for s in spans if s["kind"] == "SERVER" and s["service"] == "billing"]
    assert server["name"] == "keel.billing.v1.InvoiceService/PayInvoice"
    assert parent(server) is root
    assert server["attributes"]["keel.request_id"] == rid
    assert server["attributes"]["rpc.grpc.status_code"] == 9  # FAILED_PRECONDITION
    # billing -> ledger: a client span in billing, the ledger's server span under it.
    calls = [s for s in spans if s["kind"] == "CLIENT" and s["name"].startswith(LEDGER)]
    assert calls and all(parent(call) is server for call in calls)
    served = [s for s in spans if s["kind"] == "SERVER" and s["service"] == "ledger"]
    assert {parent(s)["span_id"] for s in served} == {c["span_id"] for c in calls}
    # The event billing wrote: published under the call. No service consumes billing's events
    # (their webhook deliveries are written with them, in the call's transaction); the
    # sign-up's trace below follows an event to its consumers.
    (publish,) = [s for s in spans if s["name"] == f"publish {FAILED}"]
    assert publish["service"] == "billing" and parent(publish) is server
    assert publish["attributes"]["keel.request_id"] == rid
    assert not [s for s in spans if s["kind"] == "CONSUMER"]
    # Statements in both services, each under its own service's span.
    statements = [s for s in spans if "db.system.name" in s["attributes"]]
    assert {s["service"] for s in statements} == {"billing", "ledger"}
    assert all(parent(s)["service"] == s["service"] for s in statements)
    assert len({span["trace_id"] for span in spans}) == 1

    # The access-log line of the call (written before the reply) names the server span.
    (line,) = access_log(Path(mesh.logs["billing"]), rid, "PayInvoice")
    assert (line["trace_id"], line["span_id"]) == (server["trace_id"], server["span_id"])
    # The gateway's, billing's and the ledger's lines of the call: one request id, one trace.
    lines = _one_request_in_every_line(mesh, root["trace_id"], rid)
    assert {"envoy", "billing", "ledger"} <= set(lines), lines
    ledger_lines = {r["span_id"] for r in lines["ledger"] if r.get("msg") == "rpc"}
    assert ledger_lines == {s["span_id"] for s in served}

    # The operators' command prints it as a tree, the ledger's span under billing's call.
    shown = subprocess.run(
        [sys.executable, "-m", "keel_runtime.traces", "--dir", str(directory), "show", rid],
        cwd=repo_root(),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    rows = shown.splitlines()
    assert rows[0].startswith(f"trace {server['trace_id']}") and f"request: {rid}" in rows[0]

    def indent(kind: str, name: str) -> int:
        """Spaces before ``name`` in its row: two per level of the tree."""
        row = next(r for r in rows if re.search(rf" {kind} +{re.escape(name)}(  \[|$)", r))
        column = row.index(f" {kind} ") + 1
        return row.index(name, column + len(kind)) - (column + 9)

    assert rows[2].endswith(f"{GATEWAY:<10} {'server':<8} {root['name']}")  # the root first
    assert indent("server", root["name"]) == 0
    assert indent("server", server["name"]) == 2
    assert indent("client", calls[0]["name"]) == 4
    assert indent("publish", f"publish {FAILED}") == 4


def _signed_up(directory: Path, rid: str) -> list[Span] | None:
    """The sign-up's trace once the gateway, identity (its call and the publish) and the
    consumers of its event in the ledger and billing have written their parts."""
    spans = _spans_of(directory, rid)
    served = {s["service"] for s in spans if s["kind"] == "SERVER"}
    published = any(s["name"] == f"publish {SIGNED_UP}" for s in spans)
    consumers = {s["service"] for s in spans if s["name"] == f"process {SIGNED_UP}"}
    complete = {GATEWAY, "identity"} <= served and published and {"ledger", "billing"} <= consumers
    return spans if complete else None


def test_a_sign_up_is_one_trace_from_the_gateway_through_nats_to_the_consumers(
    gateway: httpx.Client, mesh: Endpoints
) -> None:
    """Envoy -> identity -> NATS -> ledger and billing: the trace the issue asked for."""
    directory = Path(mesh.traces)
    rid = f"trace-signup-{uuid.uuid4()}"
    created = gateway.post(
        "/v1/organizations", json=sign_up_body(new_email()), headers={"x-request-id": rid}
    )
    assert created.status_code == 200, created.text
    assert created.headers["x-request-id"] == rid

    spans = wait_for(lambda: _signed_up(directory, rid), f"the sign-up's trace {rid}")
    by_id = {span["span_id"]: span for span in spans}
    root = _gateway_root(spans, rid)
    assert root["name"] == "POST /keel.identity.v1.OrganizationService/CreateOrganization"
    assert root["attributes"]["http.status_code"] == "200"
    assert root["attributes"]["upstream_cluster"] == "identity"
    (server,) = [s for s in spans if s["kind"] == "SERVER" and s["service"] == "identity"]
    assert server["name"] == "keel.identity.v1.OrganizationService/CreateOrganization"
    assert server["parent_id"] == root["span_id"]
    (publish,) = [s for s in spans if s["name"] == f"publish {SIGNED_UP}"]
    assert publish["parent_id"] == server["span_id"]
    consumers = [s for s in spans if s["name"] == f"process {SIGNED_UP}"]
    assert {s["parent_id"] for s in consumers} == {publish["span_id"]}
    assert {s["attributes"]["messaging.consumer.group.name"] for s in consumers} == {
        "ledger-open-wallet",
        "billing-start-subscription",
    }
    for consumer in consumers:
        assert consumer["attributes"]["keel.request_id"] == rid
        assert by_id[consumer["parent_id"]] is publish
    assert {s["trace_id"] for s in spans} == {root["trace_id"]}
    # Every span that names a request id names this one.
    named = [
        s["attributes"]["keel.request_id"] for s in spans if "keel.request_id" in s["attributes"]
    ]
    assert set(named) == {rid}

    lines = _one_request_in_every_line(mesh, root["trace_id"], rid)
    gateway_line = _gateway_logged(mesh, rid)
    assert gateway_line is not None and gateway_line["trace_id"] == root["trace_id"]
    (identity_line,) = access_log(Path(mesh.logs["identity"]), rid, "CreateOrganization")
    assert identity_line["span_id"] == server["span_id"]
    assert {"envoy", "identity"} <= set(lines), lines

    # The operators' tree starts at the gateway, identity's call one level below it.
    shown = traces.render(spans).splitlines()
    assert shown[2].endswith(f"{GATEWAY:<10} {'server':<8} {root['name']}"), shown[2]
    assert shown[3].endswith(f"{'identity':<10} {'server':<8}   {server['name']}"), shown[3]


def _traceparent(flags: str) -> tuple[str, str, str]:
    trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
    return f"00-{trace_id}-{span_id}-{flags}", trace_id, span_id


def _jwks_traced(directory: Path, rid: str) -> list[Span] | None:
    spans = _spans_of(directory, rid)
    services = {s["service"] for s in spans}
    return spans if {GATEWAY, "identity"} <= services else None


def test_a_callers_traceparent_is_continued_with_its_sampling_decision(
    gateway: httpx.Client, mesh: Endpoints
) -> None:
    directory = Path(mesh.traces)
    # First a caller that does not sample: the ids travel on, nothing is recorded.
    unsampled, unsampled_trace, _ = _traceparent("00")
    quiet = f"trace-unsampled-{uuid.uuid4()}"
    answer = gateway.get(
        "/.well-known/jwks.json", headers={"x-request-id": quiet, "traceparent": unsampled}
    )
    assert answer.status_code == 200, answer.text
    (identity_line,) = access_log(Path(mesh.logs["identity"]), quiet, "GetJwks")
    assert identity_line["trace_id"] == unsampled_trace
    _one_request_in_every_line(mesh, unsampled_trace, quiet)

    # Then one that samples: its trace is continued, the gateway's span under the caller's.
    sampled, trace_id, caller_span = _traceparent("01")
    rid = f"trace-sampled-{uuid.uuid4()}"
    answer = gateway.get(
        "/.well-known/jwks.json", headers={"x-request-id": rid, "traceparent": sampled}
    )
    assert answer.status_code == 200, answer.text
    spans = wait_for(lambda: _jwks_traced(directory, rid), f"the trace of {rid}")
    (root,) = [s for s in spans if s["service"] == GATEWAY]
    assert (root["trace_id"], root["parent_id"]) == (trace_id, caller_span)
    assert root["name"] == "GET /keel.identity.v1.AuthService/GetJwks"
    (server,) = [s for s in spans if s["service"] == "identity" and s["kind"] == "SERVER"]
    assert server["parent_id"] == root["span_id"]
    _one_request_in_every_line(mesh, trace_id, rid)
    # Each process writes its spans in the order they end, and the unsampled call ended
    # before the sampled one began: none of it was recorded.
    assert traces.traces_of(traces.read_spans(directory), quiet) == {}
    assert traces.traces_of(traces.read_spans(directory), unsampled_trace) == {}
