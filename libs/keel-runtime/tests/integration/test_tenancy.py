"""The organization a unit of work acts for, as PostgreSQL sees it (``keel.org_id``)."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from keel_runtime import context
from keel_runtime.context import Principal
from keel_runtime.db import PLATFORM, UnitOfWork, acting_for, current_tenant

pytestmark = pytest.mark.integration

SETTING = text("SELECT current_setting('keel.org_id', true)")


async def acting(engine: AsyncEngine, **kw: str) -> str | None:
    async with UnitOfWork(engine, **kw) as uow:
        return await uow.connection.scalar(SETTING)


async def test_the_verified_principal_sets_the_organization(engine: AsyncEngine) -> None:
    with context.bound(principal=Principal(subject="u1", org_id="org-of-the-caller")):
        assert await acting(engine) == "org-of-the-caller"


async def test_platform_work_names_its_organization(engine: AsyncEngine) -> None:
    with context.bound(principal=Principal(subject="svc", org_id="org-a", kind="service")):
        with acting_for("org-b"):
            assert await acting(engine) == "org-b"
        assert await acting(engine, org_id="org-c") == "org-c"


async def test_without_a_principal_the_organization_is_empty(engine: AsyncEngine) -> None:
    assert await acting(engine) == ""


async def test_the_setting_lasts_one_transaction(engine: AsyncEngine) -> None:
    async with UnitOfWork(engine, org_id="org-a") as uow:
        connection = uow.connection
        assert await connection.scalar(SETTING) == "org-a"
        await uow.rollback()
        await connection.begin()
        assert await connection.scalar(SETTING) in (None, "")


@pytest.mark.parametrize("org_id", ["o'rg", "org:with :colon", "50%s off", "back\\slash"])
async def test_any_text_is_quoted_not_interpreted(engine: AsyncEngine, org_id: str) -> None:
    assert await acting(engine, org_id=org_id) == org_id


async def test_the_transaction_may_still_choose_its_isolation(engine: AsyncEngine) -> None:
    async with UnitOfWork(engine, org_id="org-a") as uow:
        await uow.connection.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
        assert await uow.connection.scalar(text("SHOW transaction_isolation")) == "repeatable read"


async def test_a_nul_byte_is_refused(engine: AsyncEngine) -> None:
    with pytest.raises(ValueError, match="NUL"):
        await acting(engine, org_id="org\x00")


async def test_a_platform_caller_acts_for_every_organization_where_the_service_asks() -> None:
    operator = Principal(subject="operator", kind="operator")
    billing = Principal(subject="billing", org_id="org-a", kind="service")
    member = Principal(subject="u1", org_id="org-a")
    for principal, expected in ((operator, PLATFORM), (billing, PLATFORM), (member, "org-a")):
        with context.bound(principal=principal):
            assert current_tenant(platform=True) == expected
            assert current_tenant() == principal.org_id
            with acting_for("org-b"):
                assert current_tenant(platform=True) == "org-b"


async def test_a_unit_of_work_can_narrow_to_the_organization_it_found(
    engine: AsyncEngine,
) -> None:
    async with UnitOfWork(engine, org_id=PLATFORM) as uow:
        assert await uow.connection.scalar(SETTING) == PLATFORM
        await uow.act_for("org-found")
        assert await uow.connection.scalar(SETTING) == "org-found"
        assert uow.org_id == "org-found"
