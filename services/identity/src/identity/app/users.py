"""Handlers for users: read, list, invite, update, deactivate and change password."""

from __future__ import annotations

from identity.app import audit_trail
from identity.app.access import calling_user, check_grant, require_user
from identity.app.commands import (
    ChangePassword,
    CreateUser,
    DeactivateUser,
    GetCurrentUser,
    GetUser,
    ListUsers,
    UpdateUser,
)
from identity.app.ports import (
    Clock,
    IdempotencyRace,
    IdempotencyRecord,
    ListQuery,
    Page,
    PasswordHasher,
    UnitOfWork,
    UnitOfWorkFactory,
)
from identity.app.support import (
    next_page_token,
    page_cursor,
)
from identity.domain import events
from identity.domain.errors import (
    EmailTaken,
    InvalidUpdateMask,
    LastOwner,
    RequestIdReused,
    UserNotFound,
    WrongPassword,
)
from identity.domain.model import (
    User,
    check_display_name,
    default_display_name,
    normalize_email,
)
from identity.domain.roles import USER_ADMINS, Role
from keel_runtime import paging
from keel_runtime.caller import Caller
from keel_runtime.idempotency import fingerprint, replay
from keel_runtime.ids import new_id


async def _load(uow: UnitOfWork, caller: Caller, user_id: str) -> User:
    user = await uow.users.get(caller.org_id, user_id)
    if user is None:
        raise UserNotFound(user_id=user_id)
    return user


UPDATABLE_USER_FIELDS = frozenset({"display_name", "roles"})


async def _keep_an_owner(uow: UnitOfWork, user: User) -> None:
    if user.is_active and await uow.users.count_active_owners(user.organization_id) <= 1:
        raise LastOwner()


class UserHandlers:
    """Users of an organization: read, list, create, update, deactivate, change password."""

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

    async def get_current(self, query: GetCurrentUser) -> User:
        async with self._reads() as uow:
            return await _load(uow, query.caller, require_user(query.caller))

    async def get(self, query: GetUser) -> User:
        async with self._reads() as uow:
            return await _load(uow, query.caller, query.user_id)

    async def list(self, query: ListUsers) -> tuple[list[User], str]:
        scope = paging.query_digest("ListUsers", query.caller.org_id, query.show_deactivated)
        list_query = ListQuery(
            limit=paging.page_size(query.page_size),
            after=page_cursor(query.page_token, scope),
            include_inactive=query.show_deactivated,
        )
        async with self._reads() as uow:
            page: Page[User] = await uow.users.list(query.caller.org_id, list_query)
        return list(page.items), next_page_token(page.next_cursor, scope)

    async def create(self, cmd: CreateUser) -> User:
        roles = cmd.roles or frozenset({Role.MEMBER})
        check_grant(cmd.caller, roles)
        email = normalize_email(cmd.email)
        name = check_display_name(cmd.display_name or default_display_name(email))
        digest = fingerprint({"email": email, "name": name, "roles": sorted(roles)})
        password_hash = await self._hasher.hash(cmd.initial_password)
        try:
            return await self._attempt(cmd, email, name, roles, digest, password_hash)
        except IdempotencyRace:
            return await self._attempt(cmd, email, name, roles, digest, password_hash)

    async def _attempt(
        self,
        cmd: CreateUser,
        email: str,
        name: str,
        roles: frozenset[Role],
        digest: str,
        password_hash: str,
    ) -> User:
        org_id = cmd.caller.org_id
        scope = f"create_user:{org_id}"
        async with self._uow() as uow:
            if cmd.request_id:
                record = await uow.idempotency.get(scope, cmd.request_id)
                if record is not None:
                    replay(record, record.fingerprint, digest, _reused)
                    return await _load(uow, cmd.caller, record.result["user_id"])
            now = self._clock.now()
            user = User(
                id=new_id(),
                organization_id=org_id,
                email=email,
                display_name=name,
                roles=roles,
                password_hash=password_hash,
                created_at=now,
                updated_at=now,
            )
            if cmd.request_id:
                # Claimed before the email check, so a concurrent twin replays (see sign-up).
                await uow.idempotency.add(
                    IdempotencyRecord(scope, cmd.request_id, digest, {"user_id": user.id}, now)
                )
            await uow.users.lock_email(email)
            if await uow.users.find_by_email(email, org_id):
                raise EmailTaken(field="email")
            await uow.users.add(user)
            await uow.audit.append(
                audit_trail.entry(
                    organization_id=org_id,
                    action="user.created",
                    target_type="user",
                    target_id=user.id,
                    at=now,
                    caller=cmd.caller,
                    roles=",".join(sorted(roles)),
                )
            )
            uow.record(events.UserCreated(user.id, org_id, user.email, user.roles, now))
            await uow.commit()
            return user

    async def update(self, cmd: UpdateUser) -> User:
        unknown = cmd.fields - UPDATABLE_USER_FIELDS
        if unknown or not cmd.fields:
            raise InvalidUpdateMask(fields=",".join(sorted(unknown)))
        is_self = calling_user(cmd.caller) == cmd.user_id
        if "roles" in cmd.fields or not is_self:
            cmd.caller.require_role(*USER_ADMINS)
        async with self._uow() as uow:
            user = await _load(uow, cmd.caller, cmd.user_id)
            if "display_name" in cmd.fields:
                user.display_name = check_display_name(cmd.display_name)
            if "roles" in cmd.fields:
                new_roles = cmd.roles or frozenset({Role.MEMBER})
                # Adding or removing OWNER is an owner's decision.
                if Role.OWNER in (new_roles ^ user.roles):
                    check_grant(cmd.caller, {Role.OWNER})
                else:
                    check_grant(cmd.caller, new_roles)
                if Role.OWNER in user.roles and Role.OWNER not in new_roles:
                    await _keep_an_owner(uow, user)
                user.roles = new_roles
            user.updated_at = self._clock.now()
            await uow.users.update(user)
            await uow.audit.append(
                audit_trail.entry(
                    organization_id=user.organization_id,
                    action="user.updated",
                    target_type="user",
                    target_id=user.id,
                    at=user.updated_at,
                    caller=cmd.caller,
                    fields=",".join(sorted(cmd.fields)),
                )
            )
            await uow.commit()
            return user

    async def deactivate(self, cmd: DeactivateUser) -> User:
        cmd.caller.require_role(*USER_ADMINS)
        async with self._uow() as uow:
            user = await _load(uow, cmd.caller, cmd.user_id)
            if Role.OWNER in user.roles:
                cmd.caller.require_role(Role.OWNER)  # only an owner deactivates an owner
                await _keep_an_owner(uow, user)
            now = self._clock.now()
            user.deactivate(now)
            await uow.users.update(user)
            await uow.refresh_tokens.revoke_user(user.id, now)
            revoked = await uow.api_keys.revoke_by_creator(user.id, now)
            await uow.audit.append(
                audit_trail.entry(
                    organization_id=user.organization_id,
                    action="user.deactivated",
                    target_type="user",
                    target_id=user.id,
                    at=now,
                    caller=cmd.caller,
                )
            )
            uow.record(events.UserDeactivated(user.id, user.organization_id, now))
            uow.record(*(events.ApiKeyRevoked(k.id, k.organization_id, now) for k in revoked))
            await uow.commit()
            return user

    async def change_password(self, cmd: ChangePassword) -> None:
        user_id = require_user(cmd.caller)
        async with self._uow() as uow:
            user = await _load(uow, cmd.caller, user_id)
        user.ensure_active()
        if not await self._hasher.verify(user.password_hash, cmd.current_password):
            raise WrongPassword()
        new_hash = await self._hasher.hash(cmd.new_password)
        async with self._uow() as uow:
            user = await _load(uow, cmd.caller, user_id)
            now = self._clock.now()
            user.password_hash = new_hash
            user.updated_at = now
            await uow.users.update(user)
            # Other sessions may belong to whoever knew the old password: they end now,
            # their access tokens included.
            ended = await uow.refresh_tokens.revoke_user(user.id, now)
            uow.record(
                *(
                    events.SessionRevoked(
                        session,
                        user.id,
                        user.organization_id,
                        events.SessionRevocationReason.PASSWORD_CHANGED,
                        now,
                    )
                    for session in ended
                )
            )
            await uow.audit.append(
                audit_trail.entry(
                    organization_id=user.organization_id,
                    action="user.password_changed",
                    target_type="user",
                    target_id=user.id,
                    at=now,
                    caller=cmd.caller,
                )
            )
            await uow.commit()


def _reused(first: IdempotencyRecord) -> RequestIdReused:
    return RequestIdReused()
