"""What every benchmark gets: the servers, the run settings, and scratch databases."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from keel_devstack.bench.measure import Say, Settings
from keel_devstack.embedded import EmbeddedInfra
from keel_devstack.stack import database_url_for


@dataclass
class Env:
    infra: EmbeddedInfra
    """Embedded servers, or DATABASE_URL / NATS_URL / REDIS_URL when set."""
    settings: Settings
    say: Say
    output_dir: Path | None = None
    """Where results go (var/bench): profiles are saved beside them."""


def token() -> str:
    """A short random lowercase name part (database, stream, subject)."""
    return secrets.token_hex(4)


@contextmanager
def scratch_database(env: Env, prefix: str) -> Iterator[str]:
    """A fresh empty database for one benchmark, dropped afterwards."""
    admin_url = env.infra.postgres_url()
    name = f"bench_{prefix}_{token()}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield database_url_for(admin_url, name)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def server_settings(url: str) -> dict[str, str]:
    """The PostgreSQL settings that decide what a commit costs, recorded with the figures."""
    found: dict[str, str] = {}
    with psycopg.connect(url) as conn:
        for name in ("fsync", "synchronous_commit", "full_page_writes"):
            row = conn.execute(sql.SQL("SHOW {}").format(sql.Identifier(name))).fetchone()
            found[name] = str(row[0]) if row else "?"
    return found
