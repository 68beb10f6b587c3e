"""The `/metrics` endpoint: RPC counters and durations per method and code, health, isolation."""

from __future__ import annotations

from typing import Any

import grpc
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from keel_runtime.db import create_engine, new_metadata
from keel_runtime.events import connect_nats, inbox_table, outbox_table
from keel_runtime.metrics import Metrics


async def scrape(probe: Any, path: str = "/metrics") -> dict[tuple[str, frozenset[Any]], float]:
    """Every sample as (name, labels) -> value."""
    port = probe.running.metrics_port
    assert port is not None
    async with httpx.AsyncClient() as client:
        response = await client.get(f"http://127.0.0.1:{port}{path}", timeout=5)
    response.raise_for_status()
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def series(name: str, **labels: str) -> tuple[str, frozenset[Any]]:
    return (name, frozenset(labels.items()))


async def test_a_call_moves_its_method_and_code_counter(start_probe: Any, kit: Any) -> None:
    probe = await start_probe(metrics_bind="127.0.0.1:0")
    echo = f"/{kit.SERVICE}/Echo"
    await probe.echo()(kit.valid_request(), metadata=kit.AUTH, timeout=5)
    await probe.echo()(kit.valid_request(), metadata=kit.AUTH, timeout=5)
    with pytest.raises(grpc.aio.AioRpcError):
        await probe.echo()(kit.valid_request(), timeout=5)  # no principal

    samples = await scrape(probe)
    ok = series("keel_rpc_requests_total", service="probe", method=echo, code="OK")
    refused = series(
        "keel_rpc_requests_total", service="probe", method=echo, code="UNAUTHENTICATED"
    )
    assert samples[ok] == 2
    assert samples[refused] == 1
    assert samples[series("keel_rpc_duration_seconds_count", service="probe", method=echo)] == 3
    assert samples[series("keel_rpc_duration_seconds_sum", service="probe", method=echo)] > 0
    assert samples[series("keel_health_serving", service="probe")] == 1


async def test_servers_in_one_process_keep_their_own_series(start_probe: Any, kit: Any) -> None:
    first = await start_probe(metrics_bind="127.0.0.1:0")
    second = await start_probe(metrics_bind="127.0.0.1:0")
    await first.public()(kit.valid_request(), timeout=5)

    public = series(
        "keel_rpc_requests_total", service="probe", method=f"/{kit.SERVICE}/Public", code="OK"
    )
    assert (await scrape(first))[public] == 1
    assert public not in await scrape(second)


async def test_the_spec_metrics_are_used_and_served(start_probe: Any, kit: Any) -> None:
    metrics = Metrics("probe")
    probe = await start_probe(metrics=metrics, metrics_bind="127.0.0.1:0")
    metrics.outbox().published.inc(3)
    metrics.consumer("probe-things").dead_lettered.inc()

    samples = await scrape(probe)
    assert samples[series("keel_outbox_published_total", service="probe")] == 3
    dead = series(
        "keel_consumer_messages_total",
        service="probe",
        consumer="probe-things",
        outcome="dead_lettered",
    )
    assert samples[dead] == 1


async def test_endpoint_is_off_unless_bound_and_serves_only_metrics(
    start_probe: Any, kit: Any
) -> None:
    off = await start_probe()
    assert off.running.metrics_port is None

    on = await start_probe(metrics_bind="127.0.0.1:0")
    async with httpx.AsyncClient() as client:
        response = await client.get(f"http://127.0.0.1:{on.running.metrics_port}/", timeout=5)
    assert response.status_code == 404


async def test_stop_reports_not_serving_and_closes_the_endpoint(start_probe: Any) -> None:
    probe = await start_probe(metrics_bind="127.0.0.1:0")
    port = probe.running.metrics_port
    await probe.running.stop(0)
    registry = probe.running.metrics.registry
    assert registry.get_sample_value("keel_health_serving", {"service": "probe"}) == 0
    async with httpx.AsyncClient() as client:
        with pytest.raises(httpx.ConnectError):
            await client.get(f"http://127.0.0.1:{port}/metrics", timeout=5)


@pytest.mark.integration
async def test_process_and_runtime_series_are_served(
    start_probe: Any, database_url: str, nats_url: str
) -> None:
    engine = create_engine(database_url)
    tables = new_metadata()
    outbox_table(tables)  # what the runtime prunes in a service's database
    inbox_table(tables)
    async with engine.begin() as conn:
        await conn.run_sync(tables.create_all)
    nc, _ = await connect_nats(nats_url, name="probe")
    probe = await start_probe(
        metrics_bind="127.0.0.1:0", database=engine, nats=nc, closers=[nc.close, engine.dispose]
    )
    samples = await scrape(probe)

    def value(name: str, **labels: str) -> float:
        return samples[series(name, service="probe", **labels)]

    assert value("process_cpu_seconds_total") > 0
    assert value("process_resident_memory_bytes") > 0
    assert value("process_open_fds") > 0
    assert value("process_start_time_seconds") > 0
    assert value("python_gc_collections_total", generation="0") >= 0
    assert value("keel_event_loop_lag_seconds_count") >= 0  # sampled four times a second
    assert value("keel_db_pool_size") == 8
    assert 0 <= value("keel_db_pool_checked_out") <= 8  # pruning may hold one right now
    assert value("keel_db_pool_checked_out") + value("keel_db_pool_idle") >= 1
    assert value("keel_nats_connected") == 1
    assert value("keel_nats_pending_bytes") >= 0
    assert value("keel_nats_reconnects_total") == 0
