"""Users: invitations, roles, deactivation and password changes."""

from __future__ import annotations

import uuid

import pytest

from identity.app.commands import (
    ChangePassword,
    CreateOrganization,
    CreateUser,
    DeactivateUser,
    IntrospectToken,
    ListUsers,
    Login,
    UpdateUser,
)
from identity.domain import events
from identity.domain.errors import (
    EmailTaken,
    InvalidCredentials,
    InvalidUpdateMask,
    LastOwner,
    RequestIdReused,
    WrongPassword,
)
from identity.domain.model import UserState
from identity.domain.roles import Role
from keel_runtime.caller import Caller
from keel_runtime.errors import CallerRefused

PASSWORD = "correct horse battery"


async def owner_of_new_org(world) -> Caller:  # type: ignore[no-untyped-def]
    result = await world.handlers.organizations.create(
        CreateOrganization("Engines", "owner@example.com", PASSWORD, request_id=str(uuid.uuid4()))
    )
    return Caller(
        result.owner.id, result.organization.id, frozenset({Role.OWNER}), frozenset(), "user"
    )


def invite(actor: Caller, email: str, *roles: Role, request_id: str = "") -> CreateUser:
    return CreateUser(actor, email, PASSWORD, roles=frozenset(roles), request_id=request_id)


async def test_owner_invites_a_member_who_can_log_in(world) -> None:
    owner = await owner_of_new_org(world)

    user = await world.handlers.users.create(invite(owner, "Bob@Example.com"))

    assert user.roles == {Role.MEMBER} and user.email == "bob@example.com"
    assert isinstance(world.db.state.events[-1], events.UserCreated)
    grant = await world.handlers.auth.login(Login("bob@example.com", PASSWORD))
    assert grant.user_id == user.id


async def test_invitation_is_idempotent_and_email_unique(world) -> None:
    owner = await owner_of_new_org(world)
    request_id = str(uuid.uuid4())
    first = await world.handlers.users.create(
        invite(owner, "bob@example.com", request_id=request_id)
    )

    again = await world.handlers.users.create(
        invite(owner, "bob@example.com", request_id=request_id)
    )
    assert again.id == first.id
    with pytest.raises(RequestIdReused):
        await world.handlers.users.create(
            invite(owner, "bob@example.com", Role.ADMIN, request_id=request_id)
        )
    with pytest.raises(EmailTaken):
        await world.handlers.users.create(invite(owner, "bob@example.com"))


async def test_members_cannot_invite_and_admins_cannot_make_owners(world) -> None:
    owner = await owner_of_new_org(world)
    member = Caller("m", owner.org_id, frozenset({Role.MEMBER}), frozenset(), "user")
    admin = Caller("a", owner.org_id, frozenset({Role.ADMIN}), frozenset(), "user")

    with pytest.raises(CallerRefused):
        await world.handlers.users.create(invite(member, "x@example.com"))
    with pytest.raises(CallerRefused):
        await world.handlers.users.create(invite(admin, "y@example.com", Role.OWNER))


async def test_the_last_owner_cannot_be_demoted_or_deactivated(world) -> None:
    owner = await owner_of_new_org(world)

    with pytest.raises(LastOwner):
        await world.handlers.users.update(
            UpdateUser(owner, owner.subject, frozenset({"roles"}), roles=frozenset({Role.ADMIN}))
        )
    with pytest.raises(LastOwner):
        await world.handlers.users.deactivate(DeactivateUser(owner, owner.subject))


async def test_update_rejects_unknown_mask_paths(world) -> None:
    owner = await owner_of_new_org(world)

    with pytest.raises(InvalidUpdateMask):
        await world.handlers.users.update(UpdateUser(owner, owner.subject, frozenset({"email"})))


async def test_deactivation_ends_sessions_and_logins(world) -> None:
    owner = await owner_of_new_org(world)
    bob = await world.handlers.users.create(invite(owner, "bob@example.com"))
    await world.handlers.auth.login(Login("bob@example.com", PASSWORD))

    deactivated = await world.handlers.users.deactivate(DeactivateUser(owner, bob.id))

    assert deactivated.state is UserState.DEACTIVATED
    assert all(
        t.revoked_at is not None
        for t in world.db.state.refresh_tokens.values()
        if t.user_id == bob.id
    )
    assert isinstance(world.db.state.events[-1], events.UserDeactivated)
    with pytest.raises(InvalidCredentials):
        await world.handlers.auth.login(Login("bob@example.com", PASSWORD))


async def test_introspection_sees_deactivation(world) -> None:
    owner = await owner_of_new_org(world)
    await world.handlers.users.create(invite(owner, "bob@example.com"))
    grant = await world.handlers.auth.login(Login("bob@example.com", PASSWORD))
    service = Caller("gateway", "", frozenset(), frozenset(), "service")
    assert (
        await world.handlers.auth.introspect(IntrospectToken(service, grant.access_token))
    ).active

    await world.handlers.users.deactivate(DeactivateUser(owner, grant.user_id))

    result = await world.handlers.auth.introspect(IntrospectToken(service, grant.access_token))
    assert not result.active


async def test_list_users_pages_in_creation_order(world) -> None:
    owner = await owner_of_new_org(world)
    for n in range(4):
        world.clock.advance(seconds=1)
        await world.handlers.users.create(invite(owner, f"user{n}@example.com"))

    first, token = await world.handlers.users.list(ListUsers(owner, page_size=3))
    second, last = await world.handlers.users.list(ListUsers(owner, page_size=3, page_token=token))

    emails = [u.email for u in first + second]
    assert emails == ["owner@example.com"] + [f"user{n}@example.com" for n in range(4)]
    assert token and not last


async def test_change_password_needs_the_current_one(world) -> None:
    owner = await owner_of_new_org(world)

    with pytest.raises(WrongPassword):
        await world.handlers.users.change_password(
            ChangePassword(owner, "wrong", "brand new password")
        )
    await world.handlers.users.change_password(
        ChangePassword(owner, PASSWORD, "brand new password")
    )

    assert await world.handlers.auth.login(Login("owner@example.com", "brand new password"))
    with pytest.raises(InvalidCredentials):
        await world.handlers.auth.login(Login("owner@example.com", PASSWORD))
