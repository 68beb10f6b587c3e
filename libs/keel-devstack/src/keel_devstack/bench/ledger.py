"""Ledger postings/s (services/ledger/bench/postings.py) against raw psycopg INSERT+COMMIT."""

from __future__ import annotations

import asyncio
import importlib.util
import uuid
from contextlib import AsyncExitStack
from types import ModuleType

import psycopg

from keel_devstack.bench.env import Env, scratch_database, server_settings
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
    with scratch_database(env, NAME) as url:
        postings.migrate(url)
        rounds = asyncio.run(_rounds(env, postings, url, accounts))
        notes: dict[str, object] = {"accounts": accounts, "postgres": server_settings(url)}
    return Outcome([judge(NAME, spec, rounds) for spec in ROWS], notes)


async def _rounds(env: Env, postings: ModuleType, url: str, accounts: int) -> list[Round]:
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

        async def subject() -> Rates:
            rates: dict[str, float] = await postings.scenario(url, accounts)
            return rates

        await closed_loop(CONNECTIONS, WARMUP_SECONDS, insert_commit)

        return await interleave(baseline, subject, env.settings, env.say)
