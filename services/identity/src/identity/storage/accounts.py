"""Repositories for organizations and users."""

from __future__ import annotations

from sqlalchemy import any_, insert, literal, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from identity.app.ports import ListQuery, Page
from identity.domain.model import Organization, User, UserState
from identity.domain.roles import Role
from identity.storage import rows
from identity.storage.paging import keyset, page
from identity.storage.tables import organizations, users


class SqlOrganizations:
    def __init__(self, connection: AsyncConnection) -> None:
        self._c = connection

    async def add(self, organization: Organization) -> None:
        await self._c.execute(
            insert(organizations).values(
                id=organization.id,
                display_name=organization.display_name,
                default_currency=organization.default_currency,
                created_at=organization.created_at,
                updated_at=organization.updated_at,
            )
        )

    async def get(self, organization_id: str) -> Organization | None:
        row = (
            await self._c.execute(
                select(organizations).where(organizations.c.id == organization_id)
            )
        ).first()
        return rows.organization(row) if row else None

    async def update(self, organization: Organization) -> None:
        await self._c.execute(
            update(organizations)
            .where(organizations.c.id == organization.id)
            .values(
                display_name=organization.display_name,
                default_currency=organization.default_currency,
                updated_at=organization.updated_at,
            )
        )


class SqlUsers:
    def __init__(self, connection: AsyncConnection) -> None:
        self._c = connection

    async def add(self, user: User) -> None:
        await self._c.execute(insert(users).values(**rows.user_values(user)))

    async def get(self, organization_id: str, user_id: str) -> User | None:
        row = (
            await self._c.execute(
                select(users).where(
                    users.c.organization_id == organization_id, users.c.id == user_id
                )
            )
        ).first()
        return rows.user(row) if row else None

    async def find_by_email(self, email: str, organization_id: str | None = None) -> list[User]:
        stmt = select(users).where(users.c.email == email)
        if organization_id:
            stmt = stmt.where(users.c.organization_id == organization_id)
        result = await self._c.execute(stmt.order_by(users.c.created_at, users.c.id))
        return [rows.user(r) for r in result]

    # Across organizations, before the organization is known: the migration's SECURITY
    # DEFINER functions (0002) return only the one row or fact asked for.

    async def login_target(self, email: str, organization_id: str | None) -> User | None:
        row = (
            await self._c.execute(
                text("SELECT * FROM identity_login_target(:email, :org)").columns(*users.c),
                {"email": email, "org": organization_id or None},
            )
        ).first()
        return rows.user(row) if row else None

    async def email_registered(self, email: str) -> bool:
        found = await self._c.scalar(
            text("SELECT identity_email_registered(:email)"), {"email": email}
        )
        return bool(found)

    async def lock_email(self, email: str) -> None:
        # Transaction-scoped advisory lock: released at commit or rollback, never leaked.
        await self._c.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
            {"key": f"identity.email:{email}"},
        )

    async def update(self, user: User) -> None:
        values = rows.user_values(user)
        del values["id"], values["created_at"]
        await self._c.execute(update(users).where(users.c.id == user.id).values(**values))

    async def list(self, organization_id: str, query: ListQuery) -> Page[User]:
        stmt = select(users).where(users.c.organization_id == organization_id)
        if not query.include_inactive:
            stmt = stmt.where(users.c.state == UserState.ACTIVE.value)
        result = await self._c.execute(keyset(stmt, users, query, newest_first=False))
        return page([rows.user(r) for r in result], query, lambda u: (u.created_at, u.id))

    async def count_active_owners(self, organization_id: str) -> int:
        # FOR UPDATE on the owners serializes concurrent demotions of the last two owners.
        owner_ids = (
            select(users.c.id)
            .where(
                users.c.organization_id == organization_id,
                users.c.state == UserState.ACTIVE.value,
                # any_(): ARRAY's .any() is deprecated in SQLAlchemy 2.1 (a warning, an error
                # under the test suite's warning filter).
                literal(Role.OWNER.value) == any_(users.c.roles),
            )
            .with_for_update()
        )
        ids = (await self._c.execute(owner_ids)).scalars().all()
        return len(ids)
