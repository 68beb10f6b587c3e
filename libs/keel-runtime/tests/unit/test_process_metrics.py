"""Process and runtime collectors, with hand-made stand-ins for the pool and the client."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace

from prometheus_client import CollectorRegistry

from keel_runtime.metrics import Metrics
from keel_runtime.process_metrics import watch_event_loop


def _sample(metrics: Metrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, {"service": "ledger", **labels})


class FakePool:
    def size(self) -> int:
        return 8

    def checkedout(self) -> int:
        return 3

    def checkedin(self) -> int:
        return 5


def test_process_series_carry_the_service_label() -> None:
    metrics = Metrics("ledger")
    assert (_sample(metrics, "process_resident_memory_bytes") or 0) > 0
    assert _sample(metrics, "python_gc_collections_total", generation="0") is not None
    assert metrics.registry.get_sample_value("process_resident_memory_bytes") is None


def test_pool_and_client_figures_are_read_at_scrape_and_replaced_by_a_new_watch() -> None:
    metrics = Metrics("ledger")
    client = SimpleNamespace(pending_data_size=512, is_connected=True, stats={"reconnects": 2})
    metrics.watch(database=SimpleNamespace(pool=FakePool()), nats=client)
    assert _sample(metrics, "keel_db_pool_size") == 8
    assert _sample(metrics, "keel_db_pool_checked_out") == 3
    assert _sample(metrics, "keel_db_pool_idle") == 5
    assert _sample(metrics, "keel_nats_pending_bytes") == 512
    assert _sample(metrics, "keel_nats_connected") == 1
    assert _sample(metrics, "keel_nats_reconnects_total") == 2
    client.is_connected = False
    assert _sample(metrics, "keel_nats_connected") == 0  # read when scraped
    metrics.watch(database=None, nats=None)  # a second server start with other dependencies
    assert _sample(metrics, "keel_db_pool_size") is None
    assert _sample(metrics, "keel_nats_connected") is None


def test_metrics_off_records_no_process_series() -> None:
    from keel_runtime.metrics import NO_METRICS, NULL

    assert NO_METRICS.loop_lag() is NULL
    NO_METRICS.watch(database=SimpleNamespace(pool=FakePool()))
    assert list(NO_METRICS.registry.collect()) == []
    assert isinstance(Metrics("ledger").registry, CollectorRegistry)


async def test_event_loop_lag_is_how_late_a_sleeper_wakes() -> None:
    held = asyncio.Event()
    lags: list[float] = []

    class Lags:
        def observe(self, amount: float) -> None:
            lags.append(amount)
            if amount >= 0.05:
                held.set()

    watcher = asyncio.create_task(watch_event_loop(Lags(), interval=0.01))
    await asyncio.sleep(0)  # the watcher starts its first sleep
    _blocking_call(0.1)  # holds the loop
    try:
        async with asyncio.timeout(10):
            await held.wait()
    finally:
        watcher.cancel()
    # Woken 0.1 s after it went to sleep for 0.01 s: 0.09 s late at least.
    assert max(lags) >= 0.09


def _blocking_call(seconds: float) -> None:
    time.sleep(seconds)
