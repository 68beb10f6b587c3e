"""Load from several client processes, so the client is never what limits the server.

Each process opens its workload (channels, connections, a first call) and says so; once all
are ready the parent reads the servers' CPU and lets them go, and reads it again when the
last call in flight has ended. Clients report their own CPU for the same window.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import queue
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

from keel_devstack.bench.proc import CpuMeter
from keel_devstack.bench.workloads import WORKLOADS, Args

READY_TIMEOUT = 120.0
"""Opening a workload can take long on a loaded machine (refresh logs in first)."""


@dataclass(frozen=True)
class Result:
    """One measured window: operations, rate, and CPU on both sides of the wire."""

    ops: int
    seconds: float
    client_cpu_s: float
    server_cpu_s: dict[str, float]
    stack_cpu_s: float | None = None
    """Every process of the machine's stack, servers the row does not name included, and the
    clients: what the operations cost the two cores, so 2 / (this per operation) bounds the
    rate the machine could carry."""

    @property
    def per_s(self) -> float:
        return self.ops / self.seconds if self.seconds > 0 else 0.0

    def server_cpu_per_1k(self, name: str | None = None) -> float:
        """Server CPU-seconds per 1,000 operations (one server, or all of them)."""
        spent = self.server_cpu_s.get(name, 0.0) if name else sum(self.server_cpu_s.values())
        return 1000.0 * spent / self.ops if self.ops else 0.0

    @property
    def client_cpu_per_1k(self) -> float:
        return 1000.0 * self.client_cpu_s / self.ops if self.ops else 0.0

    @property
    def stack_cpu_per_1k(self) -> float | None:
        if self.stack_cpu_s is None:
            return None
        return 1000.0 * self.stack_cpu_s / self.ops if self.ops else 0.0


def _child(
    kind: str, args: Args, slots: int, seconds: float, ready: Any, go: Any
) -> tuple[int, float, float]:
    return asyncio.run(_closed_loop(kind, args, slots, seconds, ready, go))


async def _closed_loop(
    kind: str, args: Args, slots: int, seconds: float, ready: Any, go: Any
) -> tuple[int, float, float]:
    """Operations, client CPU-seconds and wall seconds until the last call in flight ended."""
    step, stack = await WORKLOADS[kind](args, slots)
    async with stack:
        await step()  # the first call pays for connecting, outside the window
        ready.put(True)
        if not await asyncio.to_thread(go.wait, READY_TIMEOUT):
            raise TimeoutError("the load never started")
        cpu0, count, began = time.process_time(), 0, time.monotonic()
        stop = began + seconds

        async def caller() -> None:
            nonlocal count
            while time.monotonic() < stop:
                done = await step()  # not `count += await …`: that reads count first
                count += done

        await asyncio.gather(*(caller() for _ in range(slots)))
        return count, time.process_time() - cpu0, time.monotonic() - began


def _warm() -> None:
    import keel_devstack.bench.workloads  # noqa: F401  (imports grpc, protos, psycopg)


class LoadPool:
    """Client processes kept across rounds (starting Python and grpc costs a second)."""

    def __init__(self, processes: int) -> None:
        self.processes = processes
        context = multiprocessing.get_context("spawn")
        self._pool = ProcessPoolExecutor(max_workers=processes, mp_context=context)
        self._manager = context.Manager()
        for future in [self._pool.submit(_warm) for _ in range(processes)]:
            future.result()

    def close(self) -> None:
        self._pool.shutdown(cancel_futures=True)
        self._manager.shutdown()

    def __enter__(self) -> LoadPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def run(
        self,
        kind: str,
        args: Args,
        *,
        slots: int,
        seconds: float,
        meter: CpuMeter,
        processes: int | None = None,
        on_start: Callable[[], object] | None = None,
    ) -> Result:
        """``slots`` concurrent callers in each of ``processes`` client processes."""
        count = processes or self.processes
        ready, go = self._manager.Queue(), self._manager.Event()
        futures = [
            self._pool.submit(_child, kind, dict(args), slots, seconds, ready, go)
            for _ in range(count)
        ]
        _wait_ready(ready, futures)
        meter.start()
        go.set()
        if on_start is not None:
            on_start()
        # Until the last call in flight has ended: long calls (a batch) would otherwise be
        # counted without the server time they took.
        done = [f.result() for f in futures]
        server = meter.stop()
        return Result(
            ops=sum(d[0] for d in done),
            seconds=max(d[2] for d in done),
            client_cpu_s=sum(d[1] for d in done),
            server_cpu_s=server,
        )


def _wait_ready(ready: Any, futures: list[Future[tuple[int, float, float]]]) -> None:
    """Every process ready, or the error of one that failed to open its workload."""
    waiting, deadline = len(futures), time.monotonic() + READY_TIMEOUT
    while waiting:
        for future in futures:
            if future.done() and (error := future.exception()) is not None:
                raise error
        try:
            ready.get(timeout=0.2)
            waiting -= 1
        except queue.Empty:
            if time.monotonic() > deadline:
                raise TimeoutError(f"load processes not ready in {READY_TIMEOUT:g}s") from None


def rates(name: str, result: Result) -> Mapping[str, float]:
    """What a round records: the rate, and the CPU figures that explain it."""
    found = {
        name: result.per_s,
        f"{name} [server cpu-s/1k]": result.server_cpu_per_1k(),
        f"{name} [client cpu-s/1k]": result.client_cpu_per_1k,
    }
    if result.stack_cpu_per_1k is not None:
        found[f"{name} [stack cpu-s/1k]"] = result.stack_cpu_per_1k
    # Each server's own share (the ledger apart from PostgreSQL), in the results only.
    for server in result.server_cpu_s:
        found[f"{name} [server {server} cpu-s/1k]"] = result.server_cpu_per_1k(server)
    return found
