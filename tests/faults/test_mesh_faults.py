"""Faults against the whole mesh under a sign-up load: nothing acknowledged is lost, no effect
happens twice.

Every sign-up acknowledged by identity must be in its database, and its
``identity.organization.created`` event must have opened one wallet (ledger) and started
one subscription (billing). The mesh is `make run`'s (durable PostgreSQL, supervised
servers), on infrastructure of this module's own.
"""

from __future__ import annotations

import asyncio
import re
import signal
import time
import uuid
from collections.abc import Awaitable, Callable

import psycopg
import pytest
from faults_support import (
    ORGANIZATION_CREATED,
    Outcome,
    SignUpLoad,
    all_serving,
    converge,
    last_seq,
    record,
    sign_up_effects,
    sign_up_outcome,
    stream_copies,
    table,
    workload_credentials,
)

from keel_devstack.stack import Stack
from keel_runtime.events import connect_nats

pytestmark = [pytest.mark.faults, pytest.mark.e2e, pytest.mark.timeout(600)]

Fault = Callable[[Stack, SignUpLoad], Awaitable[None]]

# Sign-ups per case: a bounded load, 127.0.0.1 only.
LOAD_COUNT = 150
LOAD_SECONDS = 15.0


async def _run_case(name: str, stack: Stack, fault: Fault) -> Outcome:
    endpoints = stack.endpoints
    assert endpoints is not None
    await all_serving(stack)
    began = time.monotonic()
    nc, js = await connect_nats(
        endpoints.nats_operator_url or endpoints.nats_url,
        name="faults",
        tls=endpoints.operator_tls(),
    )
    try:
        before = await last_seq(js, "IDENTITY")
        load = SignUpLoad(
            endpoints.services["identity"],
            workload_credentials(stack, "gateway"),
            tag=f"faults-{re.sub('[^a-z0-9]+', '-', name)}-{uuid.uuid4().hex[:6]}",
            count=LOAD_COUNT,
            seconds=LOAD_SECONDS,
        )
        running = asyncio.create_task(load.run())
        try:
            await load.until_acknowledged(LOAD_COUNT // 3)  # the fault hits a load in flight
            await fault(stack, load)
        finally:
            await running

        async def measure() -> Outcome:
            effects = await asyncio.to_thread(sign_up_effects, endpoints.databases, load.tag)
            duplicated, orgs = await stream_copies(js, "IDENTITY", before, ORGANIZATION_CREATED)
            return sign_up_outcome(name, load, effects, duplicated, orgs - effects.present)

        outcome = await converge(measure)
    finally:
        await nc.close()
    outcome.seconds = time.monotonic() - began
    record(outcome)
    await all_serving(stack)
    assert outcome.ok, "\n" + table([outcome])
    return outcome


def _kill(component: str, sig: signal.Signals = signal.SIGKILL) -> Fault:
    async def fault(stack: Stack, load: SignUpLoad) -> None:
        stack.signal(component, sig)

    return fault


@pytest.mark.parametrize("service", ["identity", "ledger", "billing", "items"])
async def test_kill_9_of_a_service_under_load(stack: Stack, service: str) -> None:
    await _run_case(f"kill -9 {service}", stack, _kill(service))


async def test_sigterm_of_identity_under_load(stack: Stack) -> None:
    await _run_case("SIGTERM identity", stack, _kill("identity", signal.SIGTERM))


async def test_kill_9_of_postgresql_under_load(stack: Stack) -> None:
    await _run_case("kill -9 postgres", stack, _kill("postgres"))


async def test_kill_9_of_nats_under_load(stack: Stack) -> None:
    await _run_case("kill -9 nats", stack, _kill("nats"))


async def test_nats_frozen_for_10_seconds_under_load(stack: Stack) -> None:
    async def freeze(stack: Stack, load: SignUpLoad) -> None:
        stack.signal("nats", signal.SIGSTOP)
        try:
            await asyncio.sleep(10)
        finally:
            stack.signal("nats", signal.SIGCONT)

    await _run_case("nats SIGSTOP 10s", stack, freeze)


async def test_a_long_transaction_in_another_database_stalls_no_event(stack: Stack) -> None:
    """A transaction holding an xid in ledger's database stays open until every effect of
    the load is there: identity's relay must not wait for it (it would, if its horizon were
    the cluster's oldest transaction, and the case would not converge)."""
    assert stack.endpoints is not None
    ledger_db = stack.endpoints.databases["ledger"]
    holder = await psycopg.AsyncConnection.connect(ledger_db)
    try:
        await holder.execute("SELECT pg_current_xact_id()")  # takes an xid, stays open

        async def nothing(stack: Stack, load: SignUpLoad) -> None:
            return None

        await _run_case("long transaction elsewhere", stack, nothing)
    finally:
        await holder.rollback()
        await holder.close()
