"""A NUL character (which PostgreSQL refuses in text) in any string field of any request is
INVALID_ARGUMENT naming the field, in every service, over gRPC and through the gateway."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import grpc
import httpx
import pytest
from e2e_support import (
    BAD_REQUEST,
    PASSWORD,
    Tenant,
    assert_status_error,
    detail,
    gateway_channel,
    new_email,
    request_id,
    service_channel,
    service_metadata,
)
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from keel.billing.v1 import usage_service_pb2, usage_service_pb2_grpc
from keel.identity.v1 import organization_service_pb2, organization_service_pb2_grpc
from keel.items.v1 import item_service_pb2, item_service_pb2_grpc
from keel.ledger.v1 import (
    account_service_pb2,
    account_service_pb2_grpc,
    resources_pb2,
    transaction_service_pb2,
    transaction_service_pb2_grpc,
)
from keel.type.v1 import asset_pb2

from keel_devstack.stack import Endpoints

pytestmark = pytest.mark.e2e

NUL = "\x00"


def _violated_fields(error: grpc.RpcError) -> set[str]:
    """The BadRequest field paths of a gRPC error (fails the test if it has none)."""
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None, error
    for packed in status.details:
        if packed.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad_request = error_details_pb2.BadRequest()
            packed.Unpack(bad_request)
            assert all(v.description for v in bad_request.field_violations), bad_request
            return {v.field for v in bad_request.field_violations}
    raise AssertionError(f"no BadRequest in {status}")


def _refused(call: Callable[..., Any], request: Any, metadata: Any) -> set[str]:
    with pytest.raises(grpc.RpcError) as caught:
        call(request, metadata=metadata, timeout=10)
    error = caught.value
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, (error.code(), error.details())
    return _violated_fields(error)


def test_identity_refuses_nul_in_sign_up_fields(mesh: Endpoints) -> None:
    with gateway_channel(mesh, "identity") as channel:
        stub = organization_service_pb2_grpc.OrganizationServiceStub(channel)
        request = organization_service_pb2.CreateOrganizationRequest(
            request_id=str(uuid.uuid4()),
            display_name=f"Acme{NUL}Corp",
            owner_email=new_email(),
            owner_password=PASSWORD,
            owner_display_name=f"Owner{NUL}",
        )
        fields = _refused(stub.CreateOrganization, request, [("x-request-id", request_id())])
    assert fields == {"display_name", "owner_display_name"}


def test_items_refuses_nul_in_a_note(mesh: Endpoints, tenant: Tenant) -> None:
    with gateway_channel(mesh, "items") as channel:
        stub = item_service_pb2_grpc.ItemServiceStub(channel)
        request = item_service_pb2.CreateItemRequest(note=f"remember{NUL}this")
        fields = _refused(stub.CreateItem, request, tenant.token_metadata())
    assert fields == {"note"}


def test_ledger_refuses_nul_in_metadata_keys_and_values(mesh: Endpoints, tenant: Tenant) -> None:
    with service_channel(mesh, "ledger") as channel:
        accounts = account_service_pb2_grpc.AccountServiceStub(channel)
        request = account_service_pb2.CreateAccountRequest(
            request_id=f"e2e-nul-{uuid.uuid4()}",
            organization_id=tenant.org_id,
            kind=resources_pb2.ACCOUNT_KIND_FUNDING,
            asset=asset_pb2.Asset(code="USD", scale=2),
            balance_bound=resources_pb2.BALANCE_BOUND_NONE,
            metadata={"purpose": f"top{NUL}up", "fine": "value"},
        )
        fields = _refused(accounts.CreateAccount, request, service_metadata())
        assert fields == {'metadata["purpose"]'}

        transactions = transaction_service_pb2_grpc.TransactionServiceStub(channel)
        posting = resources_pb2.Posting(
            account_id=str(uuid.uuid4()), side=resources_pb2.POSTING_SIDE_DEBIT, amount=1
        )
        transfer = transaction_service_pb2.CreateTransactionRequest(
            request_id=f"e2e-nul-{uuid.uuid4()}",
            postings=[posting, posting],
            metadata={f"k{NUL}": "v"},
        )
        transfer.postings[1].asset_code = f"US{NUL}"
        fields = _refused(transactions.CreateTransaction, transfer, service_metadata())
    # A map key is named by the key itself, with the NUL escaped.
    assert 'metadata["k\\u0000"]' in fields
    assert "postings[1].asset_code" in fields


def test_billing_refuses_nul_in_a_dedup_key(mesh: Endpoints, tenant: Tenant) -> None:
    with gateway_channel(mesh, "billing") as channel:
        stub = usage_service_pb2_grpc.UsageServiceStub(channel)
        request = usage_service_pb2.RecordUsageRequest(
            usage=usage_service_pb2.UsageInput(
                metric="items.confirmed", quantity=1, dedup_key=f"once{NUL}only"
            )
        )
        fields = _refused(stub.RecordUsage, request, tenant.token_metadata())
    assert fields == {"usage.dedup_key"}


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v1/items", {"note": f"remember{NUL}this"}, "note"),
        (
            "/v1/usage:record",
            {"usage": {"metric": "items.confirmed", "quantity": "1", "dedupKey": f"a{NUL}b"}},
            "usage.dedup_key",
        ),
    ],
)
def test_gateway_answers_400_naming_the_field(
    gateway: httpx.Client, tenant: Tenant, path: str, body: dict[str, Any], field: str
) -> None:
    rid = request_id()
    response = gateway.post(path, json=body, headers={**tenant.auth, "x-request-id": rid})
    answer = assert_status_error(
        response, http_status=400, code=3, reason="VALIDATION_FAILED", request_id=rid
    )
    violations = detail(answer, BAD_REQUEST)["fieldViolations"]
    assert [v["field"] for v in violations] == [field], violations


def test_gateway_sign_up_with_nul_is_400(gateway: httpx.Client) -> None:
    response = gateway.post(
        "/v1/organizations",
        json={
            "requestId": str(uuid.uuid4()),
            "displayName": f"Acme{NUL}",
            "ownerEmail": new_email(),
            "ownerPassword": PASSWORD,
        },
    )
    body = assert_status_error(response, http_status=400, code=3, reason="VALIDATION_FAILED")
    fields = {v["field"] for v in detail(body, BAD_REQUEST)["fieldViolations"]}
    assert fields == {"display_name"}
