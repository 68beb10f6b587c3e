"""Flow 2: a confirmed item becomes exactly one unit of billed usage, however often delivered."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from e2e_support import (
    Json,
    OutboxEvent,
    Tenant,
    assert_status_error,
    count_rows,
    get_json,
    outbox_events,
    post_json,
    wait_for,
    wait_for_async,
    wait_subscription,
)
from keel.events.v1.envelope_pb2 import Envelope
from keel.items.v1 import events_pb2 as items_events_pb2
from nats.js.client import JetStreamContext

from keel_devstack.stack import Endpoints
from keel_runtime.events import connect_nats_once

pytestmark = pytest.mark.e2e

CONFIRMED = "items.item.confirmed"
METRIC = "items.confirmed"
ITEMS_STREAM = "ITEMS"


def _ready_item(gateway: httpx.Client, tenant: Tenant) -> Json:
    body = {"requestId": str(uuid.uuid4()), "url": "https://example.com/e2e/usage"}
    item: Json = post_json(gateway, "/v1/items", tenant, body)["item"]

    def enriched() -> Json | None:
        current: Json = get_json(gateway, f"/v1/items/{item['itemId']}", tenant)["item"]
        assert current["state"] != "ITEM_STATE_FAILED", current
        return current if current["state"] == "ITEM_STATE_READY_TO_CONFIRM" else None

    return wait_for(enriched, "the enrichment worker readying the item")


def _usage(gateway: httpx.Client, tenant: Tenant) -> Json | None:
    """This period's `items.confirmed` summary, or None while billing has recorded none."""
    summary = get_json(gateway, "/v1/usage/summary", tenant, metrics=METRIC)
    found = [m for m in summary.get("metrics", []) if m["metric"] == METRIC]
    if not found or str(found[0].get("recordCount", "0")) == "0":
        return None
    metric: Json = found[0]
    return metric


def _assert_one_unit(gateway: httpx.Client, tenant: Tenant) -> None:
    metric = _usage(gateway, tenant)
    assert metric is not None
    assert (str(metric.get("value")), str(metric.get("recordCount"))) == ("1", "1"), metric


def _confirmations(mesh: Endpoints, item_id: str, *, published: bool = True) -> list[OutboxEvent]:
    events = outbox_events(mesh.databases["items"], CONFIRMED, published=published)
    mine = []
    for event in events:
        payload = items_events_pb2.ItemConfirmed()
        assert event.envelope.payload.Unpack(payload), event.envelope
        if payload.item_id == item_id:
            mine.append(event)
    return mine


async def _wait_billing_acked(js: JetStreamContext, stream: str, seq: int) -> None:
    """Wait until billing's consumers of `stream` have acknowledged everything up to `seq`
    (a consumer acknowledges only after its effect and inbox row are committed)."""
    names = [c.name for c in await js.consumers_info(stream) if "billing" in c.name]
    assert names, f"no billing consumer on {stream}"

    async def acked() -> bool | None:
        for name in names:
            floor = (await js.consumer_info(stream, name)).ack_floor
            if floor is None or floor.stream_seq < seq:
                return None
        return True

    await wait_for_async(acked, f"billing's consumers {names} acking stream seq {seq}")


async def _redeliver(mesh: Endpoints, event: OutboxEvent, replay: Envelope) -> None:
    """Publish the confirmation again (new message id) and under a new event id; wait until
    billing's consumers have acknowledged both."""
    nc, _ = await connect_nats_once(mesh.nats_operator_url, tls=mesh.operator_tls())
    try:
        js = nc.jetstream()
        same_id = await js.publish(
            CONFIRMED, event.payload, headers={**event.headers, "Nats-Msg-Id": event.envelope.id}
        )
        assert same_id.duplicate, "the broker kept a repeat under the relay's message id"
        redelivered = await js.publish(
            CONFIRMED, event.payload, headers={**event.headers, "Nats-Msg-Id": str(uuid.uuid4())}
        )
        assert not redelivered.duplicate
        replayed = await js.publish(
            CONFIRMED,
            replay.SerializeToString(),
            headers={**event.headers, "Nats-Msg-Id": replay.id},
        )
        assert not replayed.duplicate
        assert redelivered.stream == replayed.stream == ITEMS_STREAM
        await _wait_billing_acked(js, ITEMS_STREAM, max(redelivered.seq, replayed.seq))
    finally:
        await nc.close()


def test_confirmed_item_is_one_unit_of_usage_however_often_delivered(
    gateway: httpx.Client, tenant: Tenant, mesh: Endpoints
) -> None:
    item = _ready_item(gateway, tenant)
    confirmed: Json = post_json(gateway, f"/v1/items/{item['itemId']}:confirm", tenant)["item"]
    assert confirmed["state"] == "ITEM_STATE_CONFIRMED", confirmed

    # "This period" is the subscription's: billing starts it from the sign-up event, on its
    # own clock, and may not have when the item is ready.
    wait_subscription(gateway, tenant)
    wait_for(lambda: _usage(gateway, tenant), "billing recording the confirmed item's usage")
    _assert_one_unit(gateway, tenant)

    (event,) = wait_for(
        lambda: _confirmations(mesh, item["itemId"]) or None, "items publishing the confirmation"
    )
    assert event.envelope.org_id == tenant.org_id
    # The same event under a new event id too: only billing's dedup key can stop that one.
    replay = Envelope()
    replay.CopyFrom(event.envelope)
    replay.id = str(uuid.uuid4())
    asyncio.run(_redeliver(mesh, event, replay))

    _assert_one_unit(gateway, tenant)
    billing = mesh.databases["billing"]
    records = count_rows(
        billing,
        "SELECT count(*) FROM usage_records WHERE org_id = %s AND metric = %s",
        tenant.org_id,
        METRIC,
    )
    assert records == 1
    for event_id in (event.envelope.id, replay.id):
        inbox = count_rows(
            billing, "SELECT count(*) FROM inbox WHERE event_id::text = %s", event_id
        )
        assert inbox == 1, f"billing's inbox holds {inbox} rows for event {event_id}"

    # Confirming again is a state error and changes nothing anywhere.
    again = gateway.post(f"/v1/items/{item['itemId']}:confirm", json={}, headers=tenant.auth)
    assert_status_error(again, http_status=400, code=9, reason="INVALID_STATE_TRANSITION")
    assert get_json(gateway, f"/v1/items/{item['itemId']}", tenant)["item"] == confirmed
    assert len(_confirmations(mesh, item["itemId"], published=False)) == 1
    _assert_one_unit(gateway, tenant)
