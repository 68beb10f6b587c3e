"""Periodic jobs: a failing pass or item is logged, counted and retried; the rest goes on."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from keel_runtime.metrics import Metrics
from keel_runtime.periodic import Backoff, ItemRunner, run_periodically
from keel_runtime.service import FIRST_PASS_SPREAD_S, Assembly, ServiceConfig


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def sample(metrics: Metrics, name: str, **labels: str) -> float:
    value = metrics.registry.get_sample_value(name, {"service": "svc", **labels})
    return value or 0.0


async def test_a_failing_pass_is_logged_counted_and_the_loop_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    metrics = Metrics("svc")
    passes: list[int] = []
    third = asyncio.Event()

    async def job() -> None:
        passes.append(len(passes))
        if len(passes) == 1:
            raise RuntimeError("database hiccup")
        if len(passes) == 3:
            third.set()

    task = asyncio.create_task(run_periodically(job, interval_s=0, name="closer", metrics=metrics))
    await asyncio.wait_for(third.wait(), timeout=5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    failed = [r for r in caplog.records if r.name == "keel.periodic"]
    assert [(r.levelno, r.__dict__["job"]) for r in failed] == [(logging.ERROR, "closer")]
    assert sample(metrics, "keel_job_runs_total", job="closer", outcome="failed") == 1
    assert sample(metrics, "keel_job_runs_total", job="closer", outcome="succeeded") >= 2


async def test_again_starts_the_next_pass_without_waiting() -> None:
    batches = [3, 3, 0]
    done = asyncio.Event()

    async def job() -> int:
        size = batches.pop(0)
        if not batches:
            done.set()
        return size

    # An hour between passes: only `again` can bring the three passes this soon.
    task = asyncio.create_task(
        run_periodically(job, interval_s=3600, name="sender", again=lambda n: n > 0)
    )
    await asyncio.wait_for(done.wait(), timeout=5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert batches == []


async def test_the_first_pass_waits_a_random_part_of_its_spread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    drawn: list[tuple[float, float]] = []

    def uniform(low: float, high: float) -> float:
        drawn.append((low, high))
        return high  # the longest wait the spread allows

    monkeypatch.setattr("keel_runtime.periodic.random.uniform", uniform)
    ran = asyncio.Event()

    async def job() -> None:
        ran.set()

    began = time.monotonic()
    task = asyncio.create_task(
        run_periodically(job, interval_s=3600, name="closer", first_within_s=0.3)
    )
    await asyncio.wait_for(ran.wait(), timeout=5)
    waited = time.monotonic() - began
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert drawn == [(0, 0.3)]
    assert waited >= 0.3


async def test_a_job_every_zero_seconds_makes_its_first_pass_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Assembly.every spreads the first pass over min(interval, FIRST_PASS_SPREAD_S): none
    # for an interval of 0, and no random draw either.
    def uniform(low: float, high: float) -> float:
        raise AssertionError(f"no first-pass wait expected, drew in ({low}, {high})")

    monkeypatch.setattr("keel_runtime.periodic.random.uniform", uniform)
    passes = 0
    two = asyncio.Event()

    async def job() -> None:
        nonlocal passes
        passes += 1
        if passes == 2:
            two.set()

    task = asyncio.create_task(
        run_periodically(job, interval_s=0, name="busy", first_within_s=min(0, FIRST_PASS_SPREAD_S))
    )
    await asyncio.wait_for(two.wait(), timeout=1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


@pytest.mark.parametrize(("interval_s", "spread_s"), [(0.0, None), (0.5, 0.5), (60.0, 2.0)])
async def test_a_service_spreads_a_jobs_first_pass_over_its_interval_or_two_seconds(
    monkeypatch: pytest.MonkeyPatch, interval_s: float, spread_s: float | None
) -> None:
    drawn: list[tuple[float, float]] = []

    def uniform(low: float, high: float) -> float:
        drawn.append((low, high))
        return 0.0

    monkeypatch.setattr("keel_runtime.periodic.random.uniform", uniform)
    service = Assembly("svc", ServiceConfig(database_url="postgresql://keel@localhost/keel"))
    ran = asyncio.Event()

    async def job() -> None:
        ran.set()

    service.every(job, interval_s=interval_s, name="job")
    (run,) = service._background
    task = asyncio.create_task(run())
    try:
        await asyncio.wait_for(ran.wait(), timeout=1)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await service.engine.dispose()
    assert drawn == ([] if spread_s is None else [(0, spread_s)])


async def test_cancelled_during_its_first_wait_a_job_stops_quietly_without_a_pass(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr("keel_runtime.periodic.random.uniform", lambda low, high: high)
    ran = False

    async def job() -> None:
        nonlocal ran
        ran = True

    task = asyncio.create_task(
        run_periodically(job, interval_s=3600, name="late", first_within_s=FIRST_PASS_SPREAD_S)
    )
    await asyncio.sleep(0.05)  # inside the first wait
    task.cancel()
    with caplog.at_level(logging.DEBUG), pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, timeout=1)
    assert task.cancelled()
    assert not ran
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


async def test_a_failing_item_is_skipped_counted_and_retried_after_its_backoff(
    caplog: pytest.LogCaptureFixture,
) -> None:
    metrics = Metrics("svc")
    clock = FakeClock()
    runner: ItemRunner[str] = ItemRunner(
        "closer", metrics=metrics, backoff=Backoff(10, 40, clock=clock)
    )
    broken = {"b"}
    seen: list[str] = []

    async def process(item: str) -> str:
        seen.append(item)
        if item in broken:
            raise ValueError(f"cannot price {item}")
        return item.upper()

    first = await runner.run(["a", "b", "c"], process)
    assert first.succeeded == [("a", "A"), ("c", "C")]
    assert first.failed == ["b"]
    (logged,) = [r for r in caplog.records if r.name == "keel.periodic"]
    assert (logged.__dict__["item"], logged.__dict__["retry_in_s"]) == ("b", 10)
    assert runner.backing_off() == ["b"]
    assert sample(metrics, "keel_job_items_total", job="closer", outcome="failed") == 1
    assert sample(metrics, "keel_job_items_total", job="closer", outcome="succeeded") == 2
    assert sample(metrics, "keel_job_items_backing_off", job="closer") == 1

    # Inside its backoff the item is deferred, not tried; the others still run.
    seen.clear()
    second = await runner.run(["b", "d"], process)
    assert (second.deferred, seen) == (["b"], ["d"])

    # After it, tried again; a second failure doubles the wait.
    clock.now += 10
    third = await runner.run(["b"], process)
    assert third.failed == ["b"]
    assert caplog.records[-1].__dict__["retry_in_s"] == 20

    clock.now += 20
    broken.clear()
    fourth = await runner.run(["b"], process)
    assert fourth.succeeded == [("b", "B")]
    assert runner.backing_off() == []
    assert sample(metrics, "keel_job_items_backing_off", job="closer") == 0


async def test_items_run_concurrently_up_to_the_limit() -> None:
    runner: ItemRunner[int] = ItemRunner("sender", concurrency=3)
    running = 0
    peak = 0
    release = asyncio.Event()

    async def process(item: int) -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        if peak == 3:
            release.set()
        await release.wait()
        running -= 1
        if item == 2:
            raise RuntimeError("endpoint row vanished")

    result = await asyncio.wait_for(runner.run(range(6), process), timeout=5)
    assert peak == 3
    assert result.failed == [2]
    assert sorted(i for i, _ in result.succeeded) == [0, 1, 3, 4, 5]


def test_backoff_forgets_items_that_never_come_back() -> None:
    clock = FakeClock()
    backoff = Backoff(1, 4, clock=clock)
    backoff.failed("gone")
    assert backoff.waiting() == ["gone"]
    clock.now += 2
    assert backoff.waiting() == [] and backoff.ready("gone")
    clock.now += 10
    backoff.waiting()
    assert backoff.failed("gone") == (1, 1)  # a fresh start, not the fifth doubling
