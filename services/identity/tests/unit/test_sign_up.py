"""Sign-up: organization + owner + events at once; idempotent on request_id."""

from __future__ import annotations

import uuid

import pytest

from identity.app.commands import CreateOrganization, GetOrganization
from identity.domain import events
from identity.domain.errors import EmailTaken, OrganizationNotFound, RequestIdReused
from identity.domain.roles import Role
from keel_runtime.caller import Caller


def sign_up(email: str = "Ada@Example.com", **overrides: str) -> CreateOrganization:
    fields = {
        "display_name": "Analytical Engines",
        "owner_email": email,
        "owner_password": "correct horse battery",
        "request_id": str(uuid.uuid4()),
    }
    fields.update(overrides)
    return CreateOrganization(**fields)


async def test_creates_organization_owner_and_events(world) -> None:
    result = await world.handlers.organizations.create(sign_up())

    org, owner = result.organization, result.owner
    assert org.default_currency == "USD"
    assert owner.organization_id == org.id
    assert owner.email == "ada@example.com"
    assert owner.display_name == "ada"
    assert owner.roles == {Role.OWNER}
    assert owner.password_hash.startswith("$argon2id$")
    state = world.db.state
    assert set(state.organizations) == {org.id}
    assert [type(e) for e in state.events] == [events.OrganizationCreated, events.UserCreated]
    created = state.events[0]
    assert (created.organization_id, created.owner_user_id, created.default_currency) == (
        org.id,
        owner.id,
        "USD",
    )
    assert [e.action for e in state.audit] == ["organization.created"]


async def test_repeat_returns_first_result_without_new_writes(world) -> None:
    command = sign_up()
    first = await world.handlers.organizations.create(command)
    again = await world.handlers.organizations.create(command)

    assert again.organization.id == first.organization.id
    assert again.owner.id == first.owner.id
    assert len(world.db.state.organizations) == 1
    assert len(world.db.state.events) == 2


async def test_repeat_with_other_payload_is_request_id_reused(world) -> None:
    command = sign_up()
    await world.handlers.organizations.create(command)

    with pytest.raises(RequestIdReused) as caught:
        await world.handlers.organizations.create(
            sign_up(request_id=command.request_id, display_name="Other")
        )
    assert caught.value.reason == "REQUEST_ID_REUSED"


async def test_repeat_with_other_password_is_request_id_reused(world) -> None:
    command = sign_up()
    await world.handlers.organizations.create(command)

    with pytest.raises(RequestIdReused):
        await world.handlers.organizations.create(
            sign_up(request_id=command.request_id, owner_password="another password")
        )


async def test_email_already_registered_is_taken(world) -> None:
    await world.handlers.organizations.create(sign_up("ada@example.com"))

    with pytest.raises(EmailTaken) as caught:
        await world.handlers.organizations.create(sign_up(" ADA@example.com "))
    assert caught.value.reason == "EMAIL_TAKEN"
    assert len(world.db.state.organizations) == 1


async def test_failed_commit_leaves_nothing(world) -> None:
    world.db.fail_next_commit = True

    with pytest.raises(RuntimeError):
        await world.handlers.organizations.create(sign_up())
    state = world.db.state
    assert not state.organizations and not state.users and not state.events
    assert not state.idempotency


async def test_get_organization_of_another_tenant_is_not_found(world) -> None:
    mine = (await world.handlers.organizations.create(sign_up("a@example.com"))).organization
    theirs = (await world.handlers.organizations.create(sign_up("b@example.com"))).organization
    actor = Caller("u", mine.id, frozenset({Role.MEMBER}), frozenset(), "user")

    assert (await world.handlers.organizations.get(GetOrganization(actor, mine.id))).id == mine.id
    with pytest.raises(OrganizationNotFound):
        await world.handlers.organizations.get(GetOrganization(actor, theirs.id))
