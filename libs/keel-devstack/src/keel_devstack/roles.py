"""Database roles of a service: an owner that migrates, a runtime role that serves.

The owner owns the service's database and everything the migrations create in it. The
runtime role logs in with a SCRAM password, inherits nothing, and holds only the row
privileges the migration grants it (keel_runtime.migrations.grant_runtime): it cannot
alter a table, disable a trigger or row-level security, or create anything.

Passwords are generated once and kept in a JSON file of mode 0600 (var/ for `make run`,
the session's temporary directory for tests); they never appear in logs.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import psycopg
from psycopg import sql


@dataclass(frozen=True, slots=True)
class Login:
    role: str
    password: str


@dataclass(frozen=True, slots=True)
class ServiceRoles:
    owner: Login
    runtime: Login


def roles_for(prefix: str, secrets_file: Path) -> ServiceRoles:
    """``<prefix>_owner`` and ``<prefix>_runtime``, passwords from ``secrets_file`` (created)."""
    stored = _load(secrets_file)
    changed = False
    logins = []
    for kind in ("owner", "runtime"):
        role = f"{prefix}_{kind}"
        if role not in stored:
            stored[role] = secrets.token_urlsafe(24)
            changed = True
        logins.append(Login(role, stored[role]))
    if changed:
        _save(secrets_file, stored)
    return ServiceRoles(owner=logins[0], runtime=logins[1])


def _load(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    return {str(k): str(v) for k, v in data.items()}


def _save(path: Path, data: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_suffix(".tmp")
    fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(data, out, indent=2)
    staging.chmod(0o600)
    staging.replace(path)


def ensure_roles(admin_url: str, roles: ServiceRoles) -> None:
    """Create (or reset the passwords of) both roles, with the attributes they must have."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        # SCRAM verifiers, whatever the server's default.
        conn.execute("SET password_encryption = 'scram-sha-256'")
        for login, attributes in (
            (roles.owner, "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS"),
            (roles.runtime, "LOGIN NOINHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS"),
        ):
            exists = conn.execute(
                "SELECT 1 FROM pg_roles WHERE rolname = %s", (login.role,)
            ).fetchone()
            verb = "ALTER" if exists else "CREATE"
            conn.execute(
                sql.SQL(verb + " ROLE {} " + attributes + " PASSWORD {}").format(
                    sql.Identifier(login.role), sql.Literal(login.password)
                )
            )


def ensure_database(admin_url: str, database: str, owner: str, *, template: str = "") -> None:
    """Create ``database`` owned by ``owner`` (from ``template``), or hand an existing one over."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,))
        if exists.fetchone() is None:
            statement = sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(database), sql.Identifier(owner)
            )
            if template:
                statement += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
            conn.execute(statement)
        else:
            conn.execute(
                sql.SQL("ALTER DATABASE {} OWNER TO {}").format(
                    sql.Identifier(database), sql.Identifier(owner)
                )
            )
            _hand_over_objects(login_admin(admin_url, database), owner)


# What a `make run` cluster made before the roles existed holds: objects the superuser
# created. The owner role must own them to migrate further.
_FOREIGN_OBJECTS = """
SELECT 'TABLE', c.oid::regclass::text FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
   AND c.relowner <> %(owner)s::regrole
UNION ALL
SELECT 'SEQUENCE', c.oid::regclass::text FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'public' AND c.relkind = 'S' AND c.relowner <> %(owner)s::regrole
   AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype IN ('a', 'i'))
UNION ALL
SELECT 'FUNCTION', p.oid::regprocedure::text FROM pg_proc p
  JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname = 'public' AND p.proowner <> %(owner)s::regrole
"""


def _hand_over_objects(database_admin_url: str, owner: str) -> None:
    """Give ``owner`` every table, sequence and function of schema public (idempotent)."""
    with psycopg.connect(database_admin_url, autocommit=True) as conn:
        for kind, name in conn.execute(_FOREIGN_OBJECTS, {"owner": owner}).fetchall():
            # Names come from the catalog's own quoting (regclass/regprocedure text).
            conn.execute(
                sql.SQL("ALTER {} {} OWNER TO {}").format(
                    sql.SQL(kind), sql.SQL(name), sql.Identifier(owner)
                )
            )


def login_admin(admin_url: str, database: str) -> str:
    """``admin_url`` for ``database``, as the same (administrative) user."""
    base, _, rest = admin_url.rpartition("/")
    _, sep, query = rest.partition("?")
    return f"{base}/{database}{sep}{query}"


def drop_roles(admin_url: str, roles: ServiceRoles) -> None:
    """Remove both roles (their databases must be gone); best effort."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        for login in (roles.runtime, roles.owner):
            # A role still holding privileges somewhere stays: harmless on a throwaway server.
            with contextlib.suppress(psycopg.Error):
                conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(login.role)))


def login_url(server_url: str, database: str, login: Login) -> str:
    """``server_url`` (an admin URL) for ``database`` as ``login``."""
    scheme, _, rest = server_url.partition("://")
    _, _, hostpart = rest.rpartition("@")
    host, _, tail = hostpart.partition("/")
    _, sep, query = tail.partition("?")
    credentials = f"{quote(login.role, safe='')}:{quote(login.password, safe='')}"
    return f"{scheme}://{credentials}@{host}/{database}{sep}{query}"
