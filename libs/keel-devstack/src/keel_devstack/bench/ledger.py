"""Ledger postings/s (services/ledger/bench/postings.py) against raw psycopg INSERT+COMMIT.

The ledger posts as its runtime role, as the service does: row-level security applies
(a superuser, whom it does not bind, would hide its cost). What the policies cost is its
own row: the same postings by a role with the same grants and BYPASSRLS, interleaved.
"""

from __future__ import annotations

import asyncio
import importlib.util
import secrets
import uuid
from collections.abc import Iterator
from contextlib import AsyncExitStack, contextmanager
from dataclasses import replace
from types import ModuleType

import psycopg
from psycopg import sql
from sqlalchemy import make_url

from keel_devstack.bench.env import Env, scratch_database, server_settings, token
from keel_devstack.bench.measure import (
    Outcome,
    Rates,
    Round,
    RowSpec,
    closed_loop,
    interleave,
    judge,
)
from keel_devstack.stack import repo_root
from keel_runtime.migrations import grant_runtime

NAME = "ledger"
# Same concurrency and pool size as the ledger's one-posting-per-transaction scenario.
CONNECTIONS = 8
ACCOUNTS = 1000
QUICK_ACCOUNTS = 200
WARMUP_SECONDS = 0.3

BASELINE = "INSERT+COMMIT, 8 connections"
# Scenario labels as services/ledger/bench/postings.py names them.
ONE_PER_TX = "one per transaction, 8 concurrent"
GROUP_COMMIT = "group commit, 64 concurrent"
BATCH = "atomic batch of 50, 1 at a time"
BYPASSED = "one per transaction, row security bypassed"

ROWS = (
    RowSpec(
        "ledger: one posting per transaction",
        BASELINE,
        ONE_PER_TX,
        target=0.25,
        why="a posting is ~5 statements + 2 row locks per commit; §8: ~1,300 vs ~3,960/s",
    ),
    RowSpec(
        "ledger: group commit",
        BASELINE,
        GROUP_COMMIT,
        target=0.5,
        why="§8: beating one posting per transaction (~0.33x) takes group commit",
    ),
    RowSpec(
        "ledger: atomic batch of 50",
        BASELINE,
        BATCH,
        target=0.5,
        why="50 postings share one commit; at least what group commit reaches",
    ),
    RowSpec(
        "ledger: row-level security cost",
        BYPASSED,
        ONE_PER_TX,
        target=0.9,
        why="policies on every tenant table and SET LOCAL per transaction: within 10 %",
    ),
)


def load_postings() -> ModuleType:
    """The ledger's own benchmark script (not a package module, so loaded from its path)."""
    path = repo_root() / "services" / "ledger" / "bench" / "postings.py"
    spec = importlib.util.spec_from_file_location("keel_ledger_bench_postings", path)
    if spec is None or spec.loader is None:
        raise FileNotFoundError(path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(env: Env) -> Outcome:
    postings = load_postings()
    # Its scenarios run for `SECONDS` each; ours are shorter and repeated instead.
    vars(postings)["SECONDS"] = env.settings.seconds
    accounts = QUICK_ACCOUNTS if env.settings.quick else ACCOUNTS
    admin_url = env.infra.postgres_url()
    with login_roles(admin_url) as (runtime, bypass), scratch_database(env, NAME) as url:
        postings.SCHEMA.migrate(url)
        for role in (runtime, bypass):
            grant_runtime(url, role.username, postings.SCHEMA.grants)
        as_runtime, as_bypass = (_as(url, role) for role in (runtime, bypass))
        rounds = asyncio.run(_rounds(env, postings, url, as_runtime, as_bypass, accounts))
        notes: dict[str, object] = {"accounts": accounts, "postgres": server_settings(url)}
    return Outcome([judge(NAME, spec, _paired(spec, rounds)) for spec in ROWS], notes)


def _paired(spec: RowSpec, rounds: list[Round]) -> list[Round]:
    """The rounds as ``spec`` compares them: the row-security row pairs two figures of the
    same side (both postings, one bypassing), the others the baseline and the subject."""
    if spec.baseline_key != BYPASSED:
        return rounds
    return [replace(r, baseline={BYPASSED: r.subject[BYPASSED]}) for r in rounds]


class Login:
    def __init__(self, username: str, password: str) -> None:
        self.username = username
        self.password = password


@contextmanager
def login_roles(admin_url: str) -> Iterator[tuple[Login, Login]]:
    """A runtime role as the service has (bound by row-level security), and one with the
    same grants that bypasses it; dropped afterwards (after the database they hold rights in)."""
    made = [Login(f"bench_{kind}_{token()}", secrets.token_hex(16)) for kind in ("rt", "bypass")]
    with psycopg.connect(admin_url, autocommit=True) as conn:
        for login, extra in zip(made, ("NOBYPASSRLS", "BYPASSRLS"), strict=True):
            conn.execute(
                sql.SQL("CREATE ROLE {} LOGIN {} PASSWORD {}").format(
                    sql.Identifier(login.username), sql.SQL(extra), sql.Literal(login.password)
                )
            )
    try:
        yield made[0], made[1]
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            for login in made:
                conn.execute(
                    sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(login.username))
                )


def _as(url: str, login: Login) -> str:
    return (
        make_url(url)
        .set(username=login.username, password=login.password)
        .render_as_string(hide_password=False)
    )


async def _rounds(
    env: Env, postings: ModuleType, url: str, as_runtime: str, as_bypass: str, accounts: int
) -> list[Round]:
    async with AsyncExitStack() as stack:
        conns = [
            await stack.enter_async_context(await psycopg.AsyncConnection.connect(url))
            for _ in range(CONNECTIONS)
        ]
        await conns[0].execute("CREATE TABLE bench_baseline (id uuid PRIMARY KEY)")
        await conns[0].commit()
        idle = asyncio.Queue[psycopg.AsyncConnection[tuple[object, ...]]]()
        for conn in conns:
            idle.put_nowait(conn)

        async def insert_commit() -> int:
            conn = await idle.get()
            try:
                await conn.execute("INSERT INTO bench_baseline VALUES (%s)", (uuid.uuid4(),))
                await conn.commit()
            finally:
                idle.put_nowait(conn)
            return 1

        async def baseline() -> Rates:
            rate = await closed_loop(CONNECTIONS, env.settings.seconds, insert_commit)
            return {BASELINE: rate}

        turns = 0

        async def subject() -> Rates:
            # The twin bypassing row security runs beside the runtime role, first in every
            # other round: whichever runs first in a round ran measurably slower.
            nonlocal turns
            turns += 1

            async def bypassed() -> Rates:
                rate = await postings.scenario(as_bypass, accounts, only=(ONE_PER_TX,))
                return {BYPASSED: rate[ONE_PER_TX]}

            async def as_service() -> Rates:
                rates: dict[str, float] = await postings.scenario(as_runtime, accounts)
                return rates

            first, second = (bypassed, as_service) if turns % 2 else (as_service, bypassed)
            return {**await first(), **await second()}

        await closed_loop(CONNECTIONS, WARMUP_SECONDS, insert_commit)

        return await interleave(baseline, subject, env.settings, env.say)
