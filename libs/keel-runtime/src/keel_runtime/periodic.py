"""Periodic jobs that survive their failures.

``run_periodically`` runs a job every interval until cancelled: a pass that raises is logged
and counted, and the next pass runs on schedule. ``ItemRunner`` processes the items of one
pass (due subscriptions, pending deliveries ...): an item that raises is logged, counted and
skipped, never stopping the others, and waits a backoff of its own (doubling per failure)
before a later pass tries it again. So one bad row delays nobody else.

Metrics (``Metrics.job(name)``): ``keel_job_runs{outcome}``, ``keel_job_items{outcome}`` and
the ``keel_job_items_backing_off`` gauge, which operators watch for stuck items.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Hashable, Iterable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from keel_runtime.metrics import NO_METRICS, Metrics

logger = logging.getLogger("keel.periodic")

T = TypeVar("T")
R = TypeVar("R")


async def run_periodically(
    job: Callable[[], Awaitable[R]],
    *,
    interval_s: float,
    name: str,
    metrics: Metrics = NO_METRICS,
    again: Callable[[R], bool] | None = None,
    first_within_s: float = 0.0,
) -> None:
    """Run ``job()`` every ``interval_s`` seconds until cancelled.

    A pass that raises is logged and counted; the loop goes on. When ``again(result)`` is
    true (e.g. a full batch: more work is waiting), the next pass starts at once. The first
    pass waits a random part of ``first_within_s``: the jobs of a process (and replicas
    started together) do not all take a database connection at the same instant, which
    would leave each pool holding one connection per job from then on.
    """
    series = metrics.job(name)
    if first_within_s > 0:
        await asyncio.sleep(random.uniform(0, first_within_s))
    while True:
        try:
            result = await job()
        except Exception:
            series.runs_failed.inc()
            logger.exception(
                "periodic job failed; next pass on schedule",
                extra={"job": name, "next_in_s": interval_s},
            )
        else:
            series.runs_succeeded.inc()
            if again is not None and again(result):
                await asyncio.sleep(0)  # let the rest of the loop run between busy passes
                continue
        await asyncio.sleep(interval_s)


@dataclass
class _Failing:
    failures: int
    retry_at: float


class Backoff:
    """Per-item retry delays: ``initial_s`` after the first failure, doubling up to
    ``maximum_s``; a success forgets the item."""

    def __init__(
        self,
        initial_s: float = 1.0,
        maximum_s: float = 300.0,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._initial = initial_s
        self._maximum = maximum_s
        self._clock = clock
        self._failing: dict[Hashable, _Failing] = {}

    def ready(self, key: Hashable) -> bool:
        entry = self._failing.get(key)
        return entry is None or entry.retry_at <= self._clock()

    def failed(self, key: Hashable) -> tuple[int, float]:
        """Record a failure; (failures so far, seconds until the next try)."""
        failures = self._failing[key].failures + 1 if key in self._failing else 1
        delay = min(self._initial * 2 ** (failures - 1), self._maximum)
        self._failing[key] = _Failing(failures, self._clock() + delay)
        return failures, delay

    def succeeded(self, key: Hashable) -> None:
        self._failing.pop(key, None)

    def waiting(self) -> list[Hashable]:
        """Items still inside their backoff (a query can leave them out).

        Items whose backoff ran out long ago and never came back (a row deleted or no longer
        due) are forgotten here, so the table does not grow for ever.
        """
        now = self._clock()
        for key in [k for k, e in self._failing.items() if e.retry_at + self._maximum < now]:
            del self._failing[key]
        return [k for k, e in self._failing.items() if e.retry_at > now]


@dataclass
class PassResult(Generic[T, R]):
    """What one pass over the items did."""

    succeeded: list[tuple[T, R]] = field(default_factory=list)
    failed: list[T] = field(default_factory=list)
    deferred: list[T] = field(default_factory=list)
    """Skipped: still backing off from an earlier failure."""


def _identity(item: object) -> Hashable:
    return item  # callers with unhashable items pass `key`


class ItemRunner(Generic[T]):
    """Processes items so that one failing item never stops or delays the others.

    ``key`` names an item across passes (e.g. its row id), for its backoff and the logs.
    Items run one at a time, or up to ``concurrency`` at once.
    """

    def __init__(
        self,
        name: str,
        *,
        key: Callable[[T], Hashable] = _identity,
        metrics: Metrics = NO_METRICS,
        backoff: Backoff | None = None,
        concurrency: int = 1,
    ) -> None:
        self.name = name
        self._key = key
        self._series = metrics.job(name)
        self._backoff = backoff if backoff is not None else Backoff()
        self._limit = asyncio.Semaphore(max(1, concurrency))

    def backing_off(self) -> list[Hashable]:
        """Keys of the items waiting out a backoff."""
        return self._backoff.waiting()

    async def run(
        self, items: Iterable[T], process: Callable[[T], Awaitable[R]]
    ) -> PassResult[T, R]:
        result: PassResult[T, R] = PassResult()
        ready: list[T] = []
        for item in items:
            (ready if self._backoff.ready(self._key(item)) else result.deferred).append(item)
        await asyncio.gather(*(self._one(item, process, result) for item in ready))
        self._series.items_backing_off.set(len(self._backoff.waiting()))
        return result

    async def _one(
        self, item: T, process: Callable[[T], Awaitable[R]], result: PassResult[T, R]
    ) -> None:
        key = self._key(item)
        async with self._limit:
            try:
                value = await process(item)
            except Exception:
                failures, delay = self._backoff.failed(key)
                self._series.items_failed.inc()
                logger.exception(
                    "periodic job item failed; the others go on",
                    extra={
                        "job": self.name,
                        "item": str(key),
                        "failures": failures,
                        "retry_in_s": delay,
                    },
                )
                result.failed.append(item)
                return
        self._backoff.succeeded(key)
        self._series.items_succeeded.inc()
        result.succeeded.append((item, value))
