"""Handlers for organizations: sign-up, read and update."""

from __future__ import annotations

from dataclasses import dataclass

from identity.app import audit_trail
from identity.app.commands import CreateOrganization, GetOrganization, UpdateOrganization
from identity.app.ports import (
    Clock,
    IdempotencyRace,
    IdempotencyRecord,
    PasswordHasher,
    UnitOfWork,
    UnitOfWorkFactory,
)
from identity.domain import events
from identity.domain.errors import (
    EmailTaken,
    InvalidUpdateMask,
    OrganizationNotFound,
    RequestIdReused,
)
from identity.domain.model import (
    DEFAULT_CURRENCY,
    Organization,
    User,
    check_currency,
    check_display_name,
    default_display_name,
    normalize_email,
)
from identity.domain.roles import USER_ADMINS, Role
from keel_runtime.idempotency import fingerprint, replay
from keel_runtime.ids import new_id

SIGN_UP_SCOPE = "sign_up"


@dataclass(frozen=True)
class SignUp:
    organization: Organization
    owner: User


@dataclass(frozen=True)
class _Prepared:
    """A validated sign-up, with everything slow (hashing) done before the transaction."""

    cmd: CreateOrganization
    email: str
    currency: str
    display_name: str
    owner_name: str
    digest: str
    password_hash: str


UPDATABLE_ORGANIZATION_FIELDS = frozenset({"display_name", "default_currency"})


class OrganizationHandlers:
    """Organizations: sign-up, read and update."""

    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        hasher: PasswordHasher,
        clock: Clock,
        reads: UnitOfWorkFactory | None = None,
    ) -> None:
        self._uow = uow
        # Pure reads go through units of work without a transaction of their own (read_only).
        self._reads = reads or uow
        self._hasher = hasher
        self._clock = clock

    async def create(self, cmd: CreateOrganization) -> SignUp:
        """Sign-up: organization, owner and events in one transaction; idempotent on request_id."""
        email = normalize_email(cmd.owner_email)
        currency = check_currency(cmd.default_currency or DEFAULT_CURRENCY)
        display_name = check_display_name(cmd.display_name)
        owner_name = check_display_name(cmd.owner_display_name or default_display_name(email))
        # The password is left out on purpose: a replay proves it against the stored hash.
        digest = fingerprint(
            {"name": display_name, "currency": currency, "email": email, "owner": owner_name}
        )
        # Hash before the transaction opens: argon2 takes tens of milliseconds.
        password_hash = await self._hasher.hash(cmd.owner_password)
        prepared = _Prepared(cmd, email, currency, display_name, owner_name, digest, password_hash)
        try:
            return await self._attempt(prepared)
        except IdempotencyRace:
            # A concurrent twin committed first; this attempt now replays its result.
            return await self._attempt(prepared)

    async def _attempt(self, p: _Prepared) -> SignUp:
        request_id = p.cmd.request_id
        async with self._uow() as uow:
            if request_id:
                record = await uow.idempotency.get(SIGN_UP_SCOPE, request_id)
                if record is not None:
                    # The organization the first attempt made is the one to read.
                    await uow.act_for(record.result["organization_id"])
                    return await self._replay(uow, record, p.digest, p.cmd.owner_password)
            now = self._clock.now()
            org = Organization(
                id=new_id(),
                display_name=p.display_name,
                default_currency=p.currency,
                created_at=now,
                updated_at=now,
            )
            owner = User(
                id=new_id(),
                organization_id=org.id,
                email=p.email,
                display_name=p.owner_name,
                roles=frozenset({Role.OWNER}),
                password_hash=p.password_hash,
                created_at=now,
                updated_at=now,
            )
            # A sign-up runs before its organization exists: it acts for the new one.
            await uow.act_for(org.id)
            if request_id:
                # Claimed first: a concurrent twin waits on this key, then replays, instead
                # of running into the email check below and failing with EMAIL_TAKEN.
                await uow.idempotency.add(
                    IdempotencyRecord(
                        scope=SIGN_UP_SCOPE,
                        request_id=request_id,
                        fingerprint=p.digest,
                        result={"organization_id": org.id, "user_id": owner.id},
                        created_at=now,
                    )
                )
            await uow.users.lock_email(p.email)
            # Taken in any organization (a yes or no, from across organizations).
            if await uow.users.email_registered(p.email):
                raise EmailTaken(field="owner_email")
            await uow.organizations.add(org)
            await uow.users.add(owner)
            await uow.audit.append(
                audit_trail.entry(
                    organization_id=org.id,
                    action="organization.created",
                    target_type="organization",
                    target_id=org.id,
                    at=now,
                    actor_subject=owner.id,
                    actor_kind="user",
                )
            )
            uow.record(
                events.OrganizationCreated(
                    organization_id=org.id,
                    display_name=org.display_name,
                    owner_user_id=owner.id,
                    default_currency=org.default_currency,
                    occurred_at=now,
                ),
                events.UserCreated(
                    user_id=owner.id,
                    organization_id=org.id,
                    email=owner.email,
                    roles=owner.roles,
                    occurred_at=now,
                ),
            )
            await uow.commit()
            return SignUp(organization=org, owner=owner)

    async def _replay(
        self, uow: UnitOfWork, record: IdempotencyRecord, digest: str, password: str
    ) -> SignUp:
        replay(record, record.fingerprint, digest, lambda first: RequestIdReused())
        org = await uow.organizations.get(record.result["organization_id"])
        owner = await uow.users.get(record.result["organization_id"], record.result["user_id"])
        if org is None or owner is None:
            raise OrganizationNotFound()
        if not await self._hasher.verify(owner.password_hash, password):
            raise RequestIdReused()
        return SignUp(organization=org, owner=owner)

    async def get(self, query: GetOrganization) -> Organization:
        # Another tenant's organization is reported missing, not forbidden: ids don't leak.
        if query.organization_id != query.caller.org_id:
            raise OrganizationNotFound(organization_id=query.organization_id)
        async with self._reads() as uow:
            org = await uow.organizations.get(query.organization_id)
        if org is None:
            raise OrganizationNotFound(organization_id=query.organization_id)
        return org

    async def update(self, cmd: UpdateOrganization) -> Organization:
        if cmd.organization_id != cmd.caller.org_id:
            raise OrganizationNotFound(organization_id=cmd.organization_id)
        cmd.caller.require_role(*USER_ADMINS)
        unknown = cmd.fields - UPDATABLE_ORGANIZATION_FIELDS
        if unknown or not cmd.fields:
            raise InvalidUpdateMask(fields=",".join(sorted(unknown)))
        async with self._uow() as uow:
            org = await uow.organizations.get(cmd.organization_id)
            if org is None:
                raise OrganizationNotFound(organization_id=cmd.organization_id)
            if "display_name" in cmd.fields:
                org.display_name = check_display_name(cmd.display_name)
            if "default_currency" in cmd.fields:
                org.default_currency = check_currency(cmd.default_currency)
            org.updated_at = self._clock.now()
            await uow.organizations.update(org)
            await uow.audit.append(
                audit_trail.entry(
                    organization_id=org.id,
                    action="organization.updated",
                    target_type="organization",
                    target_id=org.id,
                    at=org.updated_at,
                    caller=cmd.caller,
                    fields=",".join(sorted(cmd.fields)),
                )
            )
            await uow.commit()
        return org
