"""Request messages -> commands: every field reaches the command, with the call's caller."""

from __future__ import annotations

from datetime import UTC, datetime

from google.protobuf.field_mask_pb2 import FieldMask
from google.protobuf.timestamp_pb2 import Timestamp
from keel.identity.v1 import (
    api_key_service_pb2,
    auth_service_pb2,
    organization_service_pb2,
    resources_pb2,
    user_service_pb2,
)

from identity.app import commands
from identity.transport import mapping
from keel_runtime.caller import Caller

CALLER = Caller(subject="u-1", org_id="org-1", roles=frozenset({"ADMIN"}))


def test_login_carries_the_client_address_and_no_caller() -> None:
    request = auth_service_pb2.LoginRequest(
        email="a@example.com", password="pw", organization_id="org-1"
    )
    assert mapping.login(request, "10.0.0.7") == commands.Login(
        email="a@example.com", password="pw", organization_id="org-1", client_address="10.0.0.7"
    )


def test_update_user_takes_the_mask_and_the_user_fields() -> None:
    request = user_service_pb2.UpdateUserRequest(
        user=resources_pb2.User(user_id="u-2", display_name="Bea"),
        update_mask=FieldMask(paths=["display_name"]),
    )
    command = mapping.update_user(request, CALLER)
    assert (command.caller, command.user_id, command.fields, command.display_name) == (
        CALLER,
        "u-2",
        frozenset({"display_name"}),
        "Bea",
    )


def test_create_api_key_without_expiry_never_expires() -> None:
    request = api_key_service_pb2.CreateApiKeyRequest(display_name="ci", scopes=["items.read"])
    command = mapping.create_api_key(request, CALLER)
    assert (command.caller, command.scopes, command.expires_at) == (
        CALLER,
        frozenset({"items.read"}),
        None,
    )
    at = datetime(2027, 1, 1, tzinfo=UTC)
    expiring = api_key_service_pb2.CreateApiKeyRequest(
        expire_time=Timestamp(seconds=int(at.timestamp()))
    )
    assert mapping.create_api_key(expiring, CALLER).expires_at == at


def test_sign_up_takes_every_owner_field() -> None:
    request = organization_service_pb2.CreateOrganizationRequest(
        display_name="Acme",
        owner_email="o@example.com",
        owner_password="pw",
        owner_display_name="Olu",
        default_currency="EUR",
        request_id="r-1",
    )
    assert mapping.create_organization(request) == commands.CreateOrganization(
        display_name="Acme",
        owner_email="o@example.com",
        owner_password="pw",
        owner_display_name="Olu",
        default_currency="EUR",
        request_id="r-1",
    )
