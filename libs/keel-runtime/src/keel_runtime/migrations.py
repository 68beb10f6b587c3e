"""Alembic, driven from code: upgrade to head, and the body of every service's env.py.

A service's ``migrations/env.py`` is::

    from keel_runtime.migrations import run_env
    from ledger.storage.tables import metadata

    run_env(metadata)

and a migration creates the shared event tables with ``create_event_tables()``.

Two roles per service database (see docs in deploy/README.md): the *owner* runs the
migrations and owns the tables; the *runtime* role the service serves with only reads and
writes rows (``grant_runtime``): it is not owner, so it cannot alter a table, disable its
triggers or its row-level security. ``migrate_command`` is the ``python -m <svc> migrate``
of every service.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import sql
from sqlalchemy import Connection, MetaData, create_engine, make_url, pool, text
from sqlalchemy.ext.asyncio import create_async_engine

from keel_runtime import sealing
from keel_runtime.db import PLATFORM, TENANT_SETTING, async_url, new_metadata
from keel_runtime.events.tables import Xid8, inbox_table, outbox_table

if TYPE_CHECKING:
    # Alembic (with Mako and Pygments, and every SQL dialect it supports) costs a serving
    # process ~11 MB it never uses: only a migration imports it, inside the functions below.
    from alembic.autogenerate.api import AutogenContext
    from alembic.config import Config


def _config(database_url: str, script_location: str | Path, metadata: MetaData | None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(script_location))
    # ConfigParser interpolation: a literal % in a password must be doubled.
    config.set_main_option("sqlalchemy.url", async_url(database_url).replace("%", "%%"))
    config.attributes["target_metadata"] = metadata
    return config


log = logging.getLogger(__name__)

# Every replica runs its migrations at start; one transaction-scoped advisory lock makes
# them take turns, so the later ones find the schema at head instead of racing the DDL.
MIGRATION_LOCK_KEY = 0x6B65656C  # "keel"


def _upgrade(connection: Connection, config: Config, revision: str) -> None:
    from alembic import command

    connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


async def run_migrations_async(
    database_url: str,
    script_location: str | Path,
    metadata: MetaData | None = None,
    *,
    revision: str = "head",
) -> None:
    """Upgrade the database to ``revision`` (all migrations in one transaction)."""
    config = _config(database_url, script_location, metadata)
    engine = create_async_engine(async_url(database_url), poolclass=pool.NullPool)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_upgrade, config, revision)
    finally:
        await engine.dispose()


def run_migrations(
    database_url: str,
    script_location: str | Path,
    metadata: MetaData | None = None,
    *,
    revision: str = "head",
) -> None:
    """Blocking ``alembic upgrade head``; callable with or without a running event loop."""
    coroutine = run_migrations_async(database_url, script_location, metadata, revision=revision)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(coroutine)
        return
    # Inside a running loop (a test fixture, say) the migration gets a loop of its own.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool_:
        pool_.submit(asyncio.run, coroutine).result()


def _render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | bool:
    # Autogenerate would otherwise write an unimportable type for the outbox's txid column.
    if type_ == "type" and isinstance(obj, Xid8):
        autogen_context.imports.add("from keel_runtime.events.tables import Xid8")
        return "Xid8()"
    return False


def _env_url(config: Config) -> str:
    url = config.get_main_option("sqlalchemy.url") or os.environ.get("DATABASE_URL")
    if not url:
        raise RuntimeError("set DATABASE_URL (or sqlalchemy.url) to run migrations")
    return async_url(url)


def run_env(target_metadata: MetaData | None = None) -> None:
    """The whole of a service's Alembic ``env.py`` (async template, online and offline)."""
    from alembic import context

    config = context.config
    metadata = target_metadata or config.attributes.get("target_metadata")
    options: dict[str, Any] = {
        "target_metadata": metadata,
        "compare_type": True,
        "render_item": _render_item,
    }

    if context.is_offline_mode():
        context.configure(
            url=_env_url(config),
            literal_binds=True,
            dialect_opts={"paramstyle": "named"},
            **options,
        )
        with context.begin_transaction():
            context.run_migrations()
        return

    def run(connection: Connection) -> None:
        context.configure(connection=connection, **options)
        with context.begin_transaction():
            context.run_migrations()

    connection = config.attributes.get("connection")
    if connection is not None:  # run_migrations() passes its connection in
        run(connection)
        return

    async def run_async() -> None:
        engine = create_async_engine(_env_url(config), poolclass=pool.NullPool)
        try:
            async with engine.connect() as async_connection:
                await async_connection.run_sync(run)
        finally:
            await engine.dispose()

    asyncio.run(run_async())


def _event_metadata() -> MetaData:
    metadata = new_metadata()
    outbox_table(metadata)
    inbox_table(metadata)
    return metadata


def create_event_tables() -> None:
    """In a migration's ``upgrade()``: create the outbox and inbox tables."""
    from alembic import op

    _event_metadata().create_all(op.get_bind())


def drop_event_tables() -> None:
    """In a migration's ``downgrade()``: drop the outbox and inbox tables."""
    from alembic import op

    _event_metadata().drop_all(op.get_bind())


# -- row-level security -------------------------------------------------------------------

TENANT_POLICY = "tenant_isolation"


def _acting_org(type_: str, *, admit_platform: bool = False) -> str:
    setting = f"current_setting('{TENANT_SETTING}', true)"
    if not admit_platform:
        return f"NULLIF({setting}, '')::{type_}"
    # '*' (tenancy.PLATFORM) must not reach the cast: it is no value of the column's type.
    return f"NULLIF(NULLIF({setting}, ''), '{PLATFORM}')::{type_}"


def tenant_rls_statements(
    table: str, column: str = "org_id", type_: str = "uuid", *, admit_platform: bool = False
) -> list[str]:
    """SQL that confines ``table`` to the organization of the transaction (``keel.org_id``).

    FORCE applies the policy to the table's owner too; a transaction that set no
    organization ('' or unset, hence NULL) sees and writes no row. ``admit_platform`` also
    lets a transaction acting for ``PLATFORM`` ('*') reach every row.
    """
    condition = f"{column} = {_acting_org(type_, admit_platform=admit_platform)}"
    if admit_platform:
        condition = f"current_setting('{TENANT_SETTING}', true) = '{PLATFORM}' OR {condition}"
    return [
        f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
        f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY",
        f"CREATE POLICY {TENANT_POLICY} ON {table} USING ({condition}) WITH CHECK ({condition})",
    ]


def enable_tenant_rls(
    table: str, column: str = "org_id", type_: str = "uuid", *, admit_platform: bool = False
) -> None:
    """In a migration's ``upgrade()``: row-level security on a tenant-owned table."""
    from alembic import op

    for statement in tenant_rls_statements(table, column, type_, admit_platform=admit_platform):
        op.execute(statement)


def child_rls_statements(
    table: str, column: str, parent: str, parent_key: str, *, admit_platform: bool = False
) -> list[str]:
    """SQL confining a table without an organization column to the rows whose parent row
    (``parent.parent_key = table.column``) the transaction may see: the parent's own policy
    decides, so the child follows it. ``admit_platform`` (for a parent that admits it too)
    lets a transaction acting for ``PLATFORM`` through without looking the parent up: the
    lookup is a probe per row, on the ledger's posting path."""
    condition = f"EXISTS (SELECT 1 FROM {parent} p WHERE p.{parent_key} = {table}.{column})"
    if admit_platform:
        condition = f"current_setting('{TENANT_SETTING}', true) = '{PLATFORM}' OR {condition}"
    return [
        f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
        f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY",
        f"CREATE POLICY {TENANT_POLICY} ON {table} USING ({condition}) WITH CHECK ({condition})",
    ]


def enable_child_rls(
    table: str, column: str, parent: str, parent_key: str, *, admit_platform: bool = False
) -> None:
    """In a migration's ``upgrade()``: row-level security on a tenant-owned table that has
    no organization column, through its parent (see ``child_rls_statements``)."""
    from alembic import op

    for statement in child_rls_statements(
        table, column, parent, parent_key, admit_platform=admit_platform
    ):
        op.execute(statement)


def disable_tenant_rls(table: str) -> None:
    """In a migration's ``downgrade()``: undo ``enable_tenant_rls`` or ``enable_child_rls``
    (and ``admit_cross_org_functions``)."""
    from alembic import op

    for verb in _CROSS_ORG_COMMANDS:
        op.execute(f"DROP POLICY IF EXISTS {_cross_org_policy(verb)} ON {table}")
    op.execute(f"DROP POLICY IF EXISTS {TENANT_POLICY} ON {table}")
    op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")


# -- crossing organizations: SECURITY DEFINER functions -----------------------------------
#
# Some work runs before its organization is known (a login finds the account by email) or
# for every organization in turn (a job finds what is due). It crosses organizations only
# through functions the migrations create: SECURITY DEFINER, owned by the owner role, each
# returning only what one job needs, executable by the runtime role alone. A policy admits
# their queries: inside such a function current_user is the owner while session_user is
# still the runtime role that called it. The runtime role can neither create a function
# (no CREATE on any schema) nor become another role (it is a member of none), so it cannot
# meet that condition by itself; the owner's own sessions (migrations) do not meet it
# either, so FORCE still holds them to one organization.

_CROSS_ORG_COMMANDS = ("SELECT", "UPDATE", "DELETE")


def _cross_org_policy(verb: str) -> str:
    return f"cross_org_functions_{verb.lower()}"


def cross_org_policy_statements(table: str, *commands: str) -> list[str]:
    """Policies letting the owner's SECURITY DEFINER functions run ``commands`` (SELECT,
    UPDATE, DELETE) on every organization's rows of ``table``. An UPDATE or DELETE that
    reads rows needs SELECT too."""
    statements = []
    for verb in commands or ("SELECT",):
        if verb not in _CROSS_ORG_COMMANDS:
            raise ValueError(f"cross-organization {verb} is not offered")
        statements.append(
            f"CREATE POLICY {_cross_org_policy(verb)} ON {table} FOR {verb}"
            " USING (current_user <> session_user)"
        )
    return statements


def admit_cross_org_functions(table: str, *commands: str) -> None:
    """In a migration's ``upgrade()``: see ``cross_org_policy_statements``."""
    from alembic import op

    for statement in cross_org_policy_statements(table, *commands):
        op.execute(statement)


def cross_org_function_statements(signature: str, returns: str, body: str) -> list[str]:
    """``CREATE FUNCTION signature RETURNS returns`` in SQL, SECURITY DEFINER with a fixed
    search_path, executable by nobody until ``grant_runtime`` grants it to the runtime role
    (PUBLIC would include every other service's roles)."""
    return [
        f"CREATE FUNCTION {signature} RETURNS {returns} LANGUAGE sql SECURITY DEFINER"
        f" SET search_path = pg_catalog, public AS $body${body}$body$",
        f"REVOKE ALL ON FUNCTION {signature} FROM PUBLIC",
    ]


def create_cross_org_function(signature: str, returns: str, body: str) -> None:
    """In a migration's ``upgrade()``: see ``cross_org_function_statements``."""
    from alembic import op

    for statement in cross_org_function_statements(signature, returns, body):
        op.execute(statement)


def drop_cross_org_function(signature: str) -> None:
    """In a migration's ``downgrade()``: undo ``create_cross_org_function``."""
    from alembic import op

    op.execute(f"DROP FUNCTION {signature}")


# -- the runtime role ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RuntimeGrants:
    """What a service's runtime role may do: rows of its tables, never their definition.

    Every table gets SELECT, INSERT, UPDATE, DELETE unless listed: ``append_only`` tables
    SELECT and INSERT, ``read_only`` ones SELECT. Granted anew after every upgrade (role
    names belong to a deployment, not to the schema history), so a new table is covered.
    """

    append_only: tuple[str, ...] = ()
    read_only: tuple[str, ...] = ()

    def privileges(self, table: str) -> str:
        if table in self.read_only:
            return "SELECT"
        if table in self.append_only:
            return "SELECT, INSERT"
        return "SELECT, INSERT, UPDATE, DELETE"


def database_privileges(role: str, database: str) -> list[sql.Composed]:
    """What ``role`` may do with ``database`` itself: connect, never create temporary
    tables. Kept on the database, not in it, so a copy (``CREATE DATABASE ... TEMPLATE``,
    a restore) needs them again."""
    return [
        sql.SQL("REVOKE TEMPORARY ON DATABASE {} FROM PUBLIC").format(sql.Identifier(database)),
        sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
            sql.Identifier(database), sql.Identifier(role)
        ),
    ]


def grant_statements(
    role: str,
    database: str,
    tables: Sequence[str],
    grants: RuntimeGrants,
    functions: Sequence[str] = (),
) -> list[sql.Composed]:
    """The statements giving ``role`` exactly what the service needs in ``database``:
    rows of ``tables``, and EXECUTE on ``functions`` (the cross-organization ones)."""
    who = sql.Identifier(role)
    statements = [
        # Nobody but the owner creates objects: the runtime role runs no DDL, even temporary.
        sql.SQL("REVOKE CREATE ON SCHEMA public FROM PUBLIC").format(),
        *database_privileges(role, database),
        sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(who),
        sql.SQL("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {}").format(who),
    ]
    for table in tables:
        statements.append(
            sql.SQL("REVOKE ALL ON {} FROM {}").format(sql.Identifier(table), who),
        )
        statements.append(
            sql.SQL("GRANT {} ON {} TO {}").format(
                sql.SQL(grants.privileges(table)), sql.Identifier(table), who
            )
        )
    for function in functions:
        # A regprocedure text (name and argument types), as the catalog quotes it.
        statements.append(
            sql.SQL("GRANT EXECUTE ON FUNCTION {} TO {}").format(sql.SQL(function), who)
        )
    return statements


def _tables(conn: psycopg.Connection[Any]) -> list[str]:
    rows = conn.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        " AND tablename <> 'alembic_version' ORDER BY tablename"
    ).fetchall()
    return [row[0] for row in rows]


def _cross_org_functions(conn: psycopg.Connection[Any]) -> list[str]:
    rows = conn.execute(
        "SELECT p.oid::regprocedure::text FROM pg_proc p"
        " JOIN pg_namespace n ON n.oid = p.pronamespace"
        " WHERE n.nspname = 'public' AND p.prosecdef ORDER BY 1"
    ).fetchall()
    return [row[0] for row in rows]


def grant_runtime(database_url: str, role: str, grants: RuntimeGrants = RuntimeGrants()) -> None:
    """Give the runtime ``role`` its privileges on every table and cross-organization
    function (as the owner)."""
    with psycopg.connect(_plain_url(database_url), autocommit=True) as conn:
        database = conn.execute("SELECT current_database()").fetchone()
        assert database is not None
        with conn.transaction():
            for statement in grant_statements(
                role, database[0], _tables(conn), grants, _cross_org_functions(conn)
            ):
                conn.execute(statement)


def _plain_url(url: str) -> str:
    """A libpq URL (psycopg.connect) from a SQLAlchemy-style one."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class MigrationRightsError(Exception):
    """The migrating role lacks a right; the message says what an operator must apply."""


def check_migration_rights(database_url: str, runtime_role: str | None) -> None:
    """Raise ``MigrationRightsError`` with the SQL to apply when the migration cannot do its
    work as the role of ``database_url``: create tables, and grant to ``runtime_role``."""
    with psycopg.connect(_plain_url(database_url), autocommit=True) as conn:
        row = conn.execute(
            "SELECT current_user, current_database(),"
            " has_schema_privilege('public', 'CREATE'),"
            " (SELECT rolname FROM pg_roles WHERE rolname = %s)",
            (runtime_role or "",),
        ).fetchone()
    assert row is not None
    user, database, can_create, runtime_exists = row
    statements: list[str] = []
    if not can_create:
        statements.append(
            f'ALTER DATABASE "{database}" OWNER TO "{user}";'
            "  -- the migrating role owns the database and its schema objects"
        )
        statements.append(f'GRANT CREATE ON SCHEMA public TO "{user}";')
    if runtime_role and not runtime_exists:
        statements.append(
            f'CREATE ROLE "{runtime_role}" LOGIN NOINHERIT NOSUPERUSER NOCREATEDB'
            " NOCREATEROLE NOBYPASSRLS PASSWORD '<a generated secret>';"
        )
    if statements:
        lines = "\n".join(f"  {s}" for s in statements)
        raise MigrationRightsError(
            f'role "{user}" lacks rights to migrate database "{database}".'
            f" An operator must apply, as a superuser:\n{lines}\n"
            "then run the migration again; it grants the runtime role its privileges itself."
        )


def migrate_command(service: str, schema: Schema) -> int:
    """``python -m <service> migrate``: upgrade as the owner, then grant the runtime role.

    ``MIGRATION_DATABASE_URL`` (the owner; default ``DATABASE_URL``) migrates;
    ``DATABASE_RUNTIME_ROLE`` (default: the user of ``DATABASE_URL`` when the two URLs
    differ) receives the runtime privileges.
    """
    from keel_runtime.settings import env_str, env_url, load

    def read() -> tuple[str, str]:
        runtime_url = env_url("DATABASE_URL", schemes=("postgresql", "postgres"))
        return env_str("MIGRATION_DATABASE_URL", runtime_url), runtime_url

    owner_url, runtime_url = load(read)
    runtime_role = runtime_role_for(owner_url, runtime_url)
    try:
        check_migration_rights(owner_url, runtime_role)
    except MigrationRightsError as exc:
        print(f"{service} migrate: {exc}", file=sys.stderr)
        return 1
    schema.migrate(owner_url)
    if runtime_role:
        grant_runtime(owner_url, runtime_role, schema.grants)
    reseal_secrets(owner_url, schema.metadata)
    return 0


def reseal_secrets(database_url: str, metadata: MetaData) -> None:
    """Seal every secret column's values with the newest data key (after a rotation, or
    values written before the column was sealed). Only with configured keys: an ephemeral
    key would make them unreadable after this process."""
    if not sealing.sealed_columns(metadata):
        return
    if not os.environ.get(sealing.KEYS_VARIABLE, "").strip():
        log.warning("%s is not set: secrets at rest not resealed", sealing.KEYS_VARIABLE)
        return
    engine = create_engine(make_url(async_url(database_url)), poolclass=pool.NullPool)
    try:
        with engine.begin() as connection:
            lifted = _lift_forced_security(connection, sealing.sealed_columns(metadata))
            count = sealing.reseal(connection, metadata)
            _restore_forced_security(connection, lifted)
    finally:
        engine.dispose()
    if count:
        log.info("resealed %d secret(s) with the newest data key", count)


def _lift_forced_security(connection: Connection, columns: Sequence[tuple[Any, Any]]) -> list[str]:
    """Let the owner reach every organization's secrets for the reseal: a table's owner is
    exempt from row-level security unless it is FORCEd, so lift FORCE on the sealed tables
    inside this transaction (a lock the service waits on briefly; FORCE is back at commit,
    and a failure rolls the lifting back with everything else). Returns the tables lifted."""
    lifted = []
    for table in sorted({table.name for table, _ in columns}):
        forced = connection.scalar(
            text("SELECT relforcerowsecurity FROM pg_class WHERE oid = to_regclass(:t)"),
            {"t": table},
        )
        if forced:
            connection.execute(text(f'ALTER TABLE "{table}" NO FORCE ROW LEVEL SECURITY'))
            lifted.append(table)
    return lifted


def _restore_forced_security(connection: Connection, tables: Sequence[str]) -> None:
    for table in tables:
        connection.execute(text(f'ALTER TABLE "{table}" FORCE ROW LEVEL SECURITY'))


def runtime_role_for(owner_url: str, runtime_url: str) -> str | None:
    """DATABASE_RUNTIME_ROLE, else the runtime URL's user when it is not the owner's."""
    if role := os.environ.get("DATABASE_RUNTIME_ROLE", "").strip():
        return role
    runtime_user = make_url(runtime_url).username
    return runtime_user if runtime_user != make_url(owner_url).username else None


@dataclass(frozen=True)
class Schema:
    """A service's database schema: where its migrations live, the tables they build, and
    what its runtime role may do with them. One value per service (``storage/schema.py``),
    read by ``python -m <svc> migrate`` and by the tests' fixtures alike."""

    migrations: Path
    """The Alembic script directory (``services/<svc>/migrations``)."""
    metadata: MetaData
    grants: RuntimeGrants = RuntimeGrants()

    def migrate(self, database_url: str, revision: str = "head") -> None:
        """Upgrade (or downgrade) to ``revision``, as the owner of ``database_url``."""
        run_migrations(database_url, self.migrations, self.metadata, revision=revision)

    async def migrate_async(self, database_url: str) -> None:
        """``migrate`` from a running event loop (fixtures)."""
        await run_migrations_async(database_url, self.migrations, self.metadata)

    def migrate_and_grant(self, owner_url: str, runtime_url: str) -> None:
        """Upgrade as the owner of ``owner_url``, then grant the role of ``runtime_url``."""
        migrate_and_grant(owner_url, runtime_url, self.migrations, self.metadata, self.grants)


def migrate_and_grant(
    owner_url: str,
    runtime_url: str,
    script_location: str | Path,
    metadata: MetaData | None = None,
    grants: RuntimeGrants = RuntimeGrants(),
) -> None:
    """What ``migrate_command`` does, for fixtures: upgrade as the owner of ``owner_url``,
    then grant the role of ``runtime_url`` its privileges."""
    run_migrations(owner_url, script_location, metadata)
    role = make_url(runtime_url).username
    if role:
        grant_runtime(owner_url, role, grants)
