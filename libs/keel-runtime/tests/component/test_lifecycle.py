"""Health driven by readiness probes, reflection, background tasks and graceful shutdown."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from keel_devstack.nats import start_nats
from keel_runtime.events import connect_nats
from keel_runtime.events.revocation_bucket import ensure_bucket, record
from keel_runtime.events.revocation_feed import RevocationFeed
from keel_runtime.health import LIVENESS
from keel_runtime.revocation import SESSION

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


async def status_of(channel: Any, service: str) -> int:
    health = health_pb2_grpc.HealthStub(channel)
    response = await health.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
    return int(response.status)


async def next_status(watch: Any, wanted: int) -> None:
    async for response in watch:
        if response.status == wanted:
            return
    raise AssertionError("watch ended before the status changed")


async def test_failing_probe_means_not_serving_until_it_recovers(
    start_probe: Any, kit: Any
) -> None:
    healthy = False

    async def database_ok() -> bool:
        return healthy

    probe = await start_probe(readiness=[database_ok], readiness_interval_seconds=0.05)
    assert await status_of(probe.channel, "") == NOT_SERVING
    assert await status_of(probe.channel, kit.SERVICE) == NOT_SERVING

    watch = health_pb2_grpc.HealthStub(probe.channel).Watch(
        health_pb2.HealthCheckRequest(service=kit.SERVICE), timeout=5
    )
    healthy = True
    await next_status(watch, SERVING)  # picked up by the background poll
    assert await status_of(probe.channel, "") == SERVING

    healthy = False
    await next_status(watch, NOT_SERVING)
    watch.cancel()


async def test_readiness_follows_a_frozen_or_stopped_nats_and_liveness_does_not(
    start_probe: Any, tmp_path: Path
) -> None:
    # A broker of its own: this test freezes and stops it.
    broker = start_nats(tmp_path / "nats")
    pid = broker.process.pid
    assert pid is not None
    nc, _ = await connect_nats(broker.operator_url, name="health-test")
    try:
        probe = await start_probe(nats=nc, readiness_interval_seconds=1.0)
        assert await status_of(probe.channel, "") == SERVING
        assert await status_of(probe.channel, LIVENESS) == SERVING
        watch = health_pb2_grpc.HealthStub(probe.channel).Watch(
            health_pb2.HealthCheckRequest(service=""), timeout=60
        )
        await next_status(watch, SERVING)

        os.kill(pid, signal.SIGSTOP)  # frozen: the connection stays open, nothing answers
        await next_status(watch, NOT_SERVING)
        assert await status_of(probe.channel, LIVENESS) == SERVING
        os.kill(pid, signal.SIGCONT)
        await next_status(watch, SERVING)

        broker.stop()  # gone: the client is disconnected
        await next_status(watch, NOT_SERVING)
        assert await status_of(probe.channel, LIVENESS) == SERVING
        watch.cancel()
    finally:
        if broker.process.alive:
            os.kill(pid, signal.SIGCONT)
        broker.stop()
        await nc.close()


async def test_probe_that_raises_or_hangs_counts_as_failing(start_probe: Any) -> None:
    async def broken() -> bool:
        raise ConnectionError("refused")

    async def hanging() -> bool:
        await asyncio.Event().wait()
        return True

    async def fine() -> bool:
        return True

    for probes in ([fine, broken], [hanging, fine]):
        probe = await start_probe(readiness=probes, readiness_interval_seconds=0.05)
        assert await status_of(probe.channel, "") == NOT_SERVING


async def test_reflection_lists_services(start_probe: Any, kit: Any) -> None:
    probe = await start_probe()
    stub = reflection_pb2_grpc.ServerReflectionStub(probe.channel)
    call = stub.ServerReflectionInfo(
        iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=5
    )
    names = set()
    async for response in call:
        names = {s.name for s in response.list_services_response.service}
    assert {kit.SERVICE, "grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection"} <= (
        names
    )


async def test_graceful_shutdown_finishes_in_flight_and_refuses_new_calls(
    start_probe: Any, kit: Any
) -> None:
    order: list[str] = []
    entered, release, background_started = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def slow(request: Any, ctx: Any) -> Any:
        entered.set()
        await release.wait()
        order.append("rpc-done")
        return kit.EchoResponse(note="done")

    async def relay() -> None:
        background_started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            order.append("background-cancelled")
            raise

    async def drain_nats() -> None:
        order.append("drain-nats")

    async def dispose_engine() -> None:
        order.append("dispose-engine")

    probe = await start_probe(
        kit.ProbeServicer(echo=slow),
        background=[relay],
        closers=[drain_nats, dispose_engine],
    )
    await background_started.wait()
    watch = health_pb2_grpc.HealthStub(probe.channel).Watch(
        health_pb2.HealthCheckRequest(service=""), timeout=10
    )
    await next_status(watch, SERVING)

    async def call_slow() -> Any:
        return await probe.echo()(kit.valid_request(), metadata=kit.AUTH, timeout=10)

    in_flight = asyncio.create_task(call_slow())
    await entered.wait()
    stopping = asyncio.create_task(probe.running.stop(5))
    await next_status(watch, NOT_SERVING)
    watch.cancel()  # an open Watch would hold the server for the whole grace period

    # New calls are refused while the slow one is still running inside the grace period.
    refused = None
    for _ in range(200):
        try:
            await probe.public()(kit.valid_request(), timeout=1)
        except grpc.aio.AioRpcError as error:
            refused = error
            break
        await asyncio.sleep(0.01)
    assert refused is not None and refused.code() == grpc.StatusCode.UNAVAILABLE
    assert not in_flight.done() and not stopping.done()

    release.set()
    response = await in_flight
    assert response.note == "done"
    await stopping
    assert order == ["rpc-done", "background-cancelled", "drain-nats", "dispose-engine"]


async def test_stopping_reports_not_serving_and_takes_calls_through_the_drain_window(
    start_probe: Any, kit: Any
) -> None:
    probe = await start_probe()
    watch = health_pb2_grpc.HealthStub(probe.channel).Watch(
        health_pb2.HealthCheckRequest(service=""), timeout=10
    )
    await next_status(watch, SERVING)
    # A window far longer than the test: only end_drain() closes it.
    stopping = asyncio.create_task(probe.running.stop(5, drain=600))
    await next_status(watch, NOT_SERVING)
    watch.cancel()

    # Health says go away, but a caller that has not noticed yet is still served.
    response = await probe.public()(kit.valid_request(), timeout=5)
    assert response is not None
    assert not stopping.done()

    probe.running.end_drain()
    await asyncio.wait_for(stopping, timeout=10)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await probe.public()(kit.valid_request(), timeout=1)
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_crashing_background_task_is_restarted_and_logged(
    start_probe: Any, caplog: pytest.LogCaptureFixture
) -> None:
    runs: list[int] = []
    restarted = asyncio.Event()

    async def consumer() -> None:
        runs.append(len(runs))
        if len(runs) == 1:
            raise RuntimeError("lost connection")
        restarted.set()
        await asyncio.Event().wait()

    await start_probe(background=[consumer])
    await asyncio.wait_for(restarted.wait(), timeout=5)  # first backoff is one second
    [crash] = [r for r in caplog.records if r.name == "keel.background"]
    assert crash.levelname == "ERROR" and crash.exc_info is not None
    assert crash.__dict__["task"].endswith("consumer")


async def test_the_deny_set_is_loaded_before_serving_and_watched_until_stop(
    start_probe: Any, nats_url: str, unique_name: str
) -> None:
    nc, js = await connect_nats(nats_url, name="revocations-test")
    bucket = f"REVOCATIONS_{unique_name.upper()}"
    try:
        kv = await ensure_bucket(js, horizon_s=960, bucket=bucket)
        revoked_at = int(time.time())
        await record(kv, SESSION, "s-1", revoked_at)
        feed = RevocationFeed(js, bucket=bucket)
        probe = await start_probe(nats=nc, revocations=feed, readiness_interval_seconds=5.0)
        # The first readiness round, before the server took a call, waited for the load.
        assert feed.synced
        assert feed.deny_set.refuses(
            subject="u-1", kind="user", session_id="s-1", issued_at=revoked_at
        )
        assert await status_of(probe.channel, "") == SERVING
        watching = [t for t in asyncio.all_tasks() if t.get_name() == "revocations"]
        assert len(watching) == 1
        await probe.running.stop(1)
        assert watching[0].done()
    finally:
        await js.delete_key_value(bucket)
        await nc.close()
