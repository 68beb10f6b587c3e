"""One REST call through the gateway is one trace: billing's server span, its calls to the
ledger, the event it published and the consumer that handled it, read back from the files
`make run` writes and printed by `python -m keel_runtime.traces`."""

from __future__ import annotations

import re
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
    post_json,
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
    assert int(invoice["total"]["amountMinor"]) > 0, invoice
    return invoice


def _spans_of(directory: Path, rid: str) -> list[Span]:
    found = traces.traces_of(traces.read_spans(directory), rid)
    assert len(found) <= 1, f"request {rid} is in {len(found)} traces"
    return next(iter(found.values()), [])


def _complete(directory: Path, rid: str) -> list[Span] | None:
    """The trace once every service has written its part: the consumer's span of the event,
    and the ledger's span of each call billing made (each service writes on its own clock)."""
    spans = _spans_of(directory, rid)
    consumed = any(s["kind"] == "CONSUMER" and s["name"] == f"process {FAILED}" for s in spans)
    calls = {s["span_id"] for s in spans if s["kind"] == "CLIENT" and s["name"].startswith(LEDGER)}
    answered = {s["parent_id"] for s in spans if s["kind"] == "SERVER" and s["service"] == "ledger"}
    return spans if consumed and calls and calls <= answered else None


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

    (server,) = [s for s in spans if s["kind"] == "SERVER" and s["service"] == "billing"]
    assert server["name"] == "keel.billing.v1.InvoiceService/PayInvoice"
    assert server["attributes"]["keel.request_id"] == rid
    assert server["attributes"]["rpc.grpc.status_code"] == 9  # FAILED_PRECONDITION
    # billing -> ledger: a client span in billing, the ledger's server span under it.
    calls = [s for s in spans if s["kind"] == "CLIENT" and s["name"].startswith(LEDGER)]
    assert calls and all(parent(call) is server for call in calls)
    served = [s for s in spans if s["kind"] == "SERVER" and s["service"] == "ledger"]
    assert {parent(s)["span_id"] for s in served} == {c["span_id"] for c in calls}
    # The event billing wrote: published under the call, handled under the publish.
    (publish,) = [s for s in spans if s["name"] == f"publish {FAILED}"]
    assert publish["service"] == "billing" and parent(publish) is server
    (consume,) = [s for s in spans if s["name"] == f"process {FAILED}"]
    assert parent(consume) is publish
    assert consume["attributes"]["messaging.consumer.group.name"] == "billing-webhooks"
    assert consume["attributes"]["keel.request_id"] == rid
    # Statements in both services, each under its own service's span.
    statements = [s for s in spans if "db.system.name" in s["attributes"]]
    assert {s["service"] for s in statements} == {"billing", "ledger"}
    assert all(parent(s)["service"] == s["service"] for s in statements)
    assert len({span["trace_id"] for span in spans}) == 1

    # The access-log line of the call (written before the reply) names the server span.
    (line,) = access_log(Path(mesh.logs["billing"]), rid, "PayInvoice")
    assert (line["trace_id"], line["span_id"]) == (server["trace_id"], server["span_id"])

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

    assert indent("server", server["name"]) == 0
    assert indent("client", calls[0]["name"]) == 2
    assert indent("publish", f"publish {FAILED}") == 2
    assert indent("consume", f"process {FAILED}") == 4
