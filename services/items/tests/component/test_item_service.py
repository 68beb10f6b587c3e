"""ItemService and TagService over a real socket: the contract as clients see it."""

from __future__ import annotations

import uuid
from typing import Any

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask
from grpc_health.v1 import health_pb2, health_pb2_grpc
from keel.items.v1 import events_pb2, item_pb2, item_service_pb2, tag_pb2, tag_service_pb2

from keel_runtime.context import ACTING_ORG_HEADER
from keel_runtime.events import unpack
from keel_runtime.testing import TokenIssuer
from keel_runtime.tokens import TOKEN_EXPIRED, TOKEN_INVALID

from .conftest import ItemsServer, Principal, error_reason

pytestmark = pytest.mark.integration

S = item_service_pb2


async def create(server: ItemsServer, **fields: Any) -> item_pb2.Item:
    if "note" not in fields:
        fields.setdefault("url", "https://example.com/postgres-full-text-search")
    response = await server.items.CreateItem(S.CreateItemRequest(**fields), metadata=server.auth)
    return response.item


async def wait_ready(server: ItemsServer, item_id: str) -> None:
    while True:
        envelope = await server.next_event("item.enriched")
        if envelope.subject == item_id:
            return


async def test_health_serves_both_services(server: ItemsServer) -> None:
    health = health_pb2_grpc.HealthStub(server.channel)
    for service in ("", "keel.items.v1.ItemService", "keel.items.v1.TagService"):
        reply = await health.Check(health_pb2.HealthCheckRequest(service=service))
        assert reply.status == health_pb2.HealthCheckResponse.SERVING


async def test_create_get_and_idempotency(server: ItemsServer, principal: Principal) -> None:
    request_id = str(uuid.uuid4())
    item = await create(server, request_id=request_id)
    assert (item.state, item.organization_id, item.created_by) == (
        item_pb2.ITEM_STATE_ENRICHING,
        "org-a",
        "user-1",
    )
    again = await create(server, request_id=request_id)
    assert again.item_id == item.item_id
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await create(server, request_id=request_id, note="something else")
    assert raised.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert error_reason(raised.value) == "REQUEST_ID_REUSED"

    got = await server.items.GetItem(S.GetItemRequest(item_id=item.item_id), metadata=server.auth)
    assert got.item.item_id == item.item_id
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await server.items.GetItem(
            S.GetItemRequest(item_id=item.item_id), metadata=principal("org-b")
        )
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    assert error_reason(raised.value) == "ITEM_NOT_FOUND"


async def test_calls_without_principal_or_with_bad_input_are_refused(
    server: ItemsServer, principal: Principal
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await server.items.CreateItem(S.CreateItemRequest(note="x"))
    assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await server.items.CreateItem(S.CreateItemRequest(url="ftp://x"), metadata=server.auth)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await server.items.CreateItem(
            S.CreateItemRequest(note="x"), metadata=principal(roles=("READ_ONLY",))
        )
    assert raised.value.code() == grpc.StatusCode.PERMISSION_DENIED
    reading_key = principal(sub="key-1", roles=("MEMBER",), kind="api_key", scope="items:read")
    await server.items.ListItems(S.ListItemsRequest(), metadata=reading_key)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await server.items.CreateItem(S.CreateItemRequest(note="x"), metadata=reading_key)
    assert error_reason(raised.value) == "SCOPE_REQUIRED"


async def test_tokens_this_service_cannot_verify_are_refused(
    server: ItemsServer, token_issuer: TokenIssuer
) -> None:
    forged = {
        "signed by another key": (TokenIssuer().metadata("org-a"), TOKEN_INVALID),
        "from another issuer": (token_issuer.metadata("org-a", iss="not-identity"), TOKEN_INVALID),
        "expired": (token_issuer.metadata("org-a", ttl_seconds=-120), TOKEN_EXPIRED),
        "naming a workload": (token_issuer.metadata("org-a", kind="service"), TOKEN_INVALID),
    }
    for case, (metadata, reason) in forged.items():
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await server.items.ListItems(S.ListItemsRequest(), metadata=metadata)
        assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED, case
        assert error_reason(raised.value) == reason, case


async def test_a_user_cannot_name_another_organization(server: ItemsServer) -> None:
    # x-keel-org is for platform callers; a user's organization is the one in its token.
    elsewhere = (*server.auth, (ACTING_ORG_HEADER, "org-b"))
    item = (
        await server.items.CreateItem(S.CreateItemRequest(note="mine"), metadata=elsewhere)
    ).item
    assert item.organization_id == "org-a"


async def test_item_flow_enrich_edit_confirm(server: ItemsServer) -> None:
    item = await create(server)
    await wait_ready(server, item.item_id)
    ready = (
        await server.items.GetItem(S.GetItemRequest(item_id=item.item_id), metadata=server.auth)
    ).item
    assert ready.state == item_pb2.ITEM_STATE_READY_TO_CONFIRM
    assert (ready.title, list(ready.tags)) == (
        "Postgres full text search",
        ["example", "postgres", "full", "text", "search"],
    )

    edited = await server.items.UpdateItem(
        S.UpdateItemRequest(
            item=item_pb2.Item(item_id=item.item_id, title="PG FTS", tags=["Postgres", "Search"]),
            update_mask=FieldMask(paths=["title", "tags"]),
        ),
        metadata=server.auth,
    )
    assert (edited.item.title, list(edited.item.tags)) == ("PG FTS", ["postgres", "search"])

    confirmed = await server.items.ConfirmItem(
        S.ConfirmItemRequest(item_id=item.item_id), metadata=server.auth
    )
    assert confirmed.item.state == item_pb2.ITEM_STATE_CONFIRMED
    envelope = await server.next_event("item.confirmed")
    payload = unpack(envelope, events_pb2.ItemConfirmed)
    assert (envelope.org_id, payload.organization_id, payload.item_id) == (
        "org-a",
        "org-a",
        item.item_id,
    )

    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await server.items.ConfirmItem(
            S.ConfirmItemRequest(item_id=item.item_id), metadata=server.auth
        )
    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_reason(raised.value) == "INVALID_STATE_TRANSITION"

    library = await server.items.ListItems(
        S.ListItemsRequest(collection=S.ITEM_COLLECTION_LIBRARY, tag="postgres"),
        metadata=server.auth,
    )
    assert [i.item_id for i in library.items] == [item.item_id]
    tags = await server.tags.ListTags(tag_service_pb2.ListTagsRequest(), metadata=server.auth)
    assert [(t.name, t.item_count) for t in tags.tags] == [("postgres", 1), ("search", 1)]


async def test_confirm_while_enriching_is_a_failed_precondition(server: ItemsServer) -> None:
    server.provider.gate.clear()
    item = await create(server, note="held back")
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await server.items.ConfirmItem(
            S.ConfirmItemRequest(item_id=item.item_id), metadata=server.auth
        )
    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_reason(raised.value) == "INVALID_STATE_TRANSITION"
    discarded = await server.items.DiscardItem(
        S.DiscardItemRequest(item_id=item.item_id), metadata=server.auth
    )
    assert discarded.item.state == item_pb2.ITEM_STATE_DISCARDED
    server.provider.gate.set()  # the held delivery now finds a discarded item and does nothing


async def test_failed_enrichment_and_retry(server: ItemsServer) -> None:
    # The local provider fails on the reserved .invalid domain.
    item = await create(server, url="https://unreachable.invalid/page")
    envelope = await server.next_event("enrichment.failed")
    assert unpack(envelope, events_pb2.EnrichmentFailed).attempts == 2
    failed = (
        await server.items.GetItem(S.GetItemRequest(item_id=item.item_id), metadata=server.auth)
    ).item
    assert (failed.state, failed.enrichment_attempts) == (item_pb2.ITEM_STATE_FAILED, 2)
    assert failed.failure_reason == "host unreachable.invalid cannot be resolved"
    retried = await server.items.RetryEnrichment(
        S.RetryEnrichmentRequest(item_id=item.item_id), metadata=server.auth
    )
    assert retried.item.state == item_pb2.ITEM_STATE_ENRICHING
    await server.next_event("enrichment.requested")
    await server.next_event("enrichment.failed")


async def test_list_search_and_pages(server: ItemsServer) -> None:
    ids = [
        (await create(server, note=f"Note number {n} about sourdough")).item_id for n in range(3)
    ]
    other = await create(server, note="Unrelated text")
    page = await server.items.ListItems(
        S.ListItemsRequest(query="sourdough", page_size=2), metadata=server.auth
    )
    assert [i.item_id for i in page.items] == ids[::-1][:2]
    rest = await server.items.ListItems(
        S.ListItemsRequest(query="sourdough", page_size=2, page_token=page.next_page_token),
        metadata=server.auth,
    )
    assert ([i.item_id for i in rest.items], rest.next_page_token) == ([ids[0]], "")
    everything = await server.items.ListItems(S.ListItemsRequest(), metadata=server.auth)
    assert other.item_id in {i.item_id for i in everything.items}


async def test_tag_crud(server: ItemsServer) -> None:
    tag = (
        await server.tags.CreateTag(
            tag_service_pb2.CreateTagRequest(name="Read Later"), metadata=server.auth
        )
    ).tag
    assert tag.name == "read-later"
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await server.tags.CreateTag(
            tag_service_pb2.CreateTagRequest(name="read_later"), metadata=server.auth
        )
    assert raised.value.code() == grpc.StatusCode.ALREADY_EXISTS
    renamed = await server.tags.RenameTag(
        tag_service_pb2.RenameTagRequest(tag_id=tag.tag_id, new_name="later"), metadata=server.auth
    )
    assert renamed.tag.name == "later"
    await server.tags.DeleteTag(
        tag_service_pb2.DeleteTagRequest(tag_id=tag.tag_id), metadata=server.auth
    )
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await server.tags.DeleteTag(
            tag_service_pb2.DeleteTagRequest(tag_id=tag.tag_id), metadata=server.auth
        )
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND


async def test_every_rpc_is_implemented(server: ItemsServer) -> None:
    for stub, module, service in (
        (server.items, item_service_pb2, "ItemService"),
        (server.tags, tag_service_pb2, "TagService"),
    ):
        for method in module.DESCRIPTOR.services_by_name[service].methods:
            request = getattr(module, method.input_type.name)()
            try:
                # Empty requests are invalid or read-only: no method has side effects here.
                await getattr(stub, method.name)(request, metadata=server.auth)
            except grpc.aio.AioRpcError as error:
                assert error.code() != grpc.StatusCode.UNIMPLEMENTED, method.full_name


async def test_create_tag_is_idempotent_on_request_id(server: ItemsServer) -> None:
    request_id = str(uuid.uuid4())
    suffix = uuid.uuid4().hex[:8]  # names of this test only, whatever else the org holds

    async def create_tag(name: str) -> tag_pb2.Tag:
        request = tag_service_pb2.CreateTagRequest(name=name, request_id=request_id)
        return (await server.tags.CreateTag(request, metadata=server.auth)).tag

    tag = await create_tag(f"Reading {suffix}")
    again = await create_tag(f"Reading {suffix}")
    assert (again.tag_id, again.name) == (tag.tag_id, f"reading-{suffix}")
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await create_tag(f"Other {suffix}")
    assert raised.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert error_reason(raised.value) == "REQUEST_ID_REUSED"
    listed = await server.tags.ListTags(tag_service_pb2.ListTagsRequest(), metadata=server.auth)
    assert [t.tag_id for t in listed.tags if t.name.endswith(suffix)] == [tag.tag_id]
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await server.tags.CreateTag(
            tag_service_pb2.CreateTagRequest(name="x", request_id="not-a-uuid"),
            metadata=server.auth,
        )
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
