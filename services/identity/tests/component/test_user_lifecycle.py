"""GetUser, ChangePassword, DeactivateUser and ListAuditEvents over gRPC, on a real server."""

from __future__ import annotations

import uuid

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from keel.identity.v1 import (
    audit_service_pb2,
    audit_service_pb2_grpc,
    auth_service_pb2,
    auth_service_pb2_grpc,
    organization_service_pb2,
    organization_service_pb2_grpc,
    resources_pb2,
    user_service_pb2,
    user_service_pb2_grpc,
)

from .conftest import bearer

PASSWORD = "correct horse battery"
NEW_PASSWORD = "a brand new passphrase"


def reason(error: grpc.aio.AioRpcError) -> str:
    status = rpc_status.from_call(error)
    assert status is not None
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            return info.reason
    raise AssertionError("no ErrorInfo")


async def sign_up(
    channel: grpc.aio.Channel, email: str
) -> organization_service_pb2.CreateOrganizationResponse:
    return await organization_service_pb2_grpc.OrganizationServiceStub(channel).CreateOrganization(
        organization_service_pb2.CreateOrganizationRequest(
            request_id=str(uuid.uuid4()),
            display_name="Engines",
            owner_email=email,
            owner_password=PASSWORD,
        )
    )


async def log_in(
    channel: grpc.aio.Channel, email: str, password: str = PASSWORD
) -> auth_service_pb2.TokenGrant:
    auth = auth_service_pb2_grpc.AuthServiceStub(channel)
    response = await auth.Login(auth_service_pb2.LoginRequest(email=email, password=password))
    return response.grant


async def add_member(channel: grpc.aio.Channel, owner: object, email: str) -> resources_pb2.User:
    created = await user_service_pb2_grpc.UserServiceStub(channel).CreateUser(
        user_service_pb2.CreateUserRequest(
            email=email, initial_password=PASSWORD, roles=[resources_pb2.ROLE_MEMBER]
        ),
        metadata=owner,
    )
    return created.user


async def test_get_user_sees_its_own_organization_only(channel: grpc.aio.Channel) -> None:
    await sign_up(channel, "owner-a@example.com")
    await sign_up(channel, "owner-b@example.com")
    owner_a = bearer((await log_in(channel, "owner-a@example.com")).access_token)
    owner_b = bearer((await log_in(channel, "owner-b@example.com")).access_token)
    users = user_service_pb2_grpc.UserServiceStub(channel)
    bob = await add_member(channel, owner_a, "bob@example.com")

    got = await users.GetUser(
        user_service_pb2.GetUserRequest(user_id=bob.user_id), metadata=owner_a
    )
    assert (got.user.email, got.user.state) == ("bob@example.com", resources_pb2.USER_STATE_ACTIVE)
    assert list(got.user.roles) == [resources_pb2.ROLE_MEMBER]

    with pytest.raises(grpc.aio.AioRpcError) as elsewhere:
        await users.GetUser(user_service_pb2.GetUserRequest(user_id=bob.user_id), metadata=owner_b)
    assert elsewhere.value.code() == grpc.StatusCode.NOT_FOUND
    assert reason(elsewhere.value) == "USER_NOT_FOUND"

    with pytest.raises(grpc.aio.AioRpcError) as malformed:
        await users.GetUser(user_service_pb2.GetUserRequest(user_id="bob"), metadata=owner_a)
    assert malformed.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_change_password_needs_the_current_one_and_ends_every_session(
    channel: grpc.aio.Channel,
) -> None:
    await sign_up(channel, "owner@example.com")
    grant = await log_in(channel, "owner@example.com")
    me = bearer(grant.access_token)
    users = user_service_pb2_grpc.UserServiceStub(channel)
    auth = auth_service_pb2_grpc.AuthServiceStub(channel)

    with pytest.raises(grpc.aio.AioRpcError) as wrong:
        await users.ChangePassword(
            user_service_pb2.ChangePasswordRequest(
                current_password="not the password", new_password=NEW_PASSWORD
            ),
            metadata=me,
        )
    assert wrong.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert reason(wrong.value) == "WRONG_PASSWORD"
    with pytest.raises(grpc.aio.AioRpcError) as short:
        await users.ChangePassword(
            user_service_pb2.ChangePasswordRequest(current_password=PASSWORD, new_password="short"),
            metadata=me,
        )
    assert short.value.code() == grpc.StatusCode.INVALID_ARGUMENT

    await users.ChangePassword(
        user_service_pb2.ChangePasswordRequest(
            current_password=PASSWORD, new_password=NEW_PASSWORD
        ),
        metadata=me,
    )

    with pytest.raises(grpc.aio.AioRpcError) as ended:
        await auth.RefreshToken(
            auth_service_pb2.RefreshTokenRequest(refresh_token=grant.refresh_token)
        )
    assert reason(ended.value) == "INVALID_REFRESH_TOKEN"
    with pytest.raises(grpc.aio.AioRpcError) as old:
        await log_in(channel, "owner@example.com")
    assert reason(old.value) == "INVALID_CREDENTIALS"
    assert (await log_in(channel, "owner@example.com", NEW_PASSWORD)).user_id == grant.user_id


async def test_a_deactivated_user_cannot_log_in_or_refresh(channel: grpc.aio.Channel) -> None:
    created = await sign_up(channel, "owner@example.com")
    owner = bearer((await log_in(channel, "owner@example.com")).access_token)
    users = user_service_pb2_grpc.UserServiceStub(channel)
    auth = auth_service_pb2_grpc.AuthServiceStub(channel)
    bob = await add_member(channel, owner, "bob@example.com")
    bob_grant = await log_in(channel, "bob@example.com")

    # A member may not deactivate anyone.
    with pytest.raises(grpc.aio.AioRpcError) as member:
        await users.DeactivateUser(
            user_service_pb2.DeactivateUserRequest(user_id=created.owner.user_id),
            metadata=bearer(bob_grant.access_token),
        )
    assert member.value.code() == grpc.StatusCode.PERMISSION_DENIED

    deactivated = await users.DeactivateUser(
        user_service_pb2.DeactivateUserRequest(user_id=bob.user_id), metadata=owner
    )
    assert deactivated.user.state == resources_pb2.USER_STATE_DEACTIVATED

    with pytest.raises(grpc.aio.AioRpcError) as login:
        await log_in(channel, "bob@example.com")
    assert reason(login.value) == "INVALID_CREDENTIALS"
    with pytest.raises(grpc.aio.AioRpcError) as refresh:
        await auth.RefreshToken(
            auth_service_pb2.RefreshTokenRequest(refresh_token=bob_grant.refresh_token)
        )
    assert refresh.value.code() == grpc.StatusCode.UNAUTHENTICATED
    listed = await users.ListUsers(user_service_pb2.ListUsersRequest(), metadata=owner)
    assert [u.user_id for u in listed.users] == [created.owner.user_id]

    # The organization keeps an owner.
    with pytest.raises(grpc.aio.AioRpcError) as last:
        await users.DeactivateUser(
            user_service_pb2.DeactivateUserRequest(user_id=created.owner.user_id), metadata=owner
        )
    assert last.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert reason(last.value) == "LAST_OWNER"


async def test_audit_log_lists_the_organizations_actions_newest_first(
    channel: grpc.aio.Channel,
) -> None:
    created = await sign_up(channel, "owner@example.com")
    await sign_up(channel, "other@example.com")
    owner = bearer((await log_in(channel, "owner@example.com")).access_token)
    users = user_service_pb2_grpc.UserServiceStub(channel)
    audit = audit_service_pb2_grpc.AuditServiceStub(channel)
    bob = await add_member(channel, owner, "bob@example.com")
    await users.DeactivateUser(
        user_service_pb2.DeactivateUserRequest(user_id=bob.user_id), metadata=owner
    )

    listed = await audit.ListAuditEvents(audit_service_pb2.ListAuditEventsRequest(), metadata=owner)
    actions = [e.action for e in listed.audit_events]
    assert actions == ["user.deactivated", "user.created", "user.login", "organization.created"]
    org_id = created.organization.organization_id
    assert {e.organization_id for e in listed.audit_events} == {org_id}
    newest = listed.audit_events[0]
    assert (newest.actor, newest.target_type, newest.target_id) == (
        created.owner.user_id,
        "user",
        bob.user_id,
    )

    only = await audit.ListAuditEvents(
        audit_service_pb2.ListAuditEventsRequest(action="user.created"), metadata=owner
    )
    assert [e.target_id for e in only.audit_events] == [bob.user_id]
    first = await audit.ListAuditEvents(
        audit_service_pb2.ListAuditEventsRequest(page_size=3), metadata=owner
    )
    rest = await audit.ListAuditEvents(
        audit_service_pb2.ListAuditEventsRequest(page_size=3, page_token=first.next_page_token),
        metadata=owner,
    )
    assert [e.action for e in [*first.audit_events, *rest.audit_events]] == actions
    assert rest.next_page_token == ""

    # Members do not read the audit log.
    await add_member(channel, owner, "carol@example.com")
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await audit.ListAuditEvents(
            audit_service_pb2.ListAuditEventsRequest(),
            metadata=bearer((await log_in(channel, "carol@example.com")).access_token),
        )
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
