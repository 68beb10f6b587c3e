"""Load from several client processes, so the client is never what limits the server.

Each process opens its workload (channels, connections, a first call), then all start at
the same wall-clock instant and stop ``seconds`` later. The parent reads the servers' CPU
over exactly that window; the clients report their own CPU beside it.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

from keel_devstack.bench.proc import CpuMeter
from keel_devstack.bench.workloads import WORKLOADS, Args

SETUP_SECONDS = 2.0
"""Time given to every process to open its workload before the common start."""


@dataclass(frozen=True)
class Result:
    """One measured window: operations, rate, and CPU on both sides of the wire."""

    ops: int
    seconds: float
    client_cpu_s: float
    server_cpu_s: dict[str, float]
    late_processes: int = 0
    """Processes that opened their workload after the common start (their window is shorter)."""

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


def _child(
    kind: str, args: Args, slots: int, start_at: float, seconds: float
) -> tuple[int, float, bool]:
    return asyncio.run(_closed_loop(kind, args, slots, start_at, seconds))


async def _closed_loop(
    kind: str, args: Args, slots: int, start_at: float, seconds: float
) -> tuple[int, float, bool]:
    step, stack = await WORKLOADS[kind](args, slots)
    async with stack:
        await step()  # the first call pays for connecting, outside the window
        late = time.time() > start_at
        await asyncio.sleep(max(0.0, start_at - time.time()))
        cpu0, count = time.process_time(), 0
        stop = start_at + seconds

        async def caller() -> None:
            nonlocal count
            while time.time() < stop:
                done = await step()  # not `count += await …`: that reads count first
                count += done

        await asyncio.gather(*(caller() for _ in range(slots)))
        return count, time.process_time() - cpu0, late


def _warm() -> None:
    import keel_devstack.bench.workloads  # noqa: F401  (imports grpc, protos, psycopg)


class LoadPool:
    """Client processes kept across rounds (starting Python and grpc costs a second)."""

    def __init__(self, processes: int) -> None:
        self.processes = processes
        context = multiprocessing.get_context("spawn")
        self._pool = ProcessPoolExecutor(max_workers=processes, mp_context=context)
        for future in [self._pool.submit(_warm) for _ in range(processes)]:
            future.result()

    def close(self) -> None:
        self._pool.shutdown(cancel_futures=True)

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
    ) -> Result:
        """``slots`` concurrent callers in each of ``processes`` client processes."""
        count = processes or self.processes
        start_at = time.time() + SETUP_SECONDS
        futures = [
            self._pool.submit(_child, kind, dict(args), slots, start_at, seconds)
            for _ in range(count)
        ]
        time.sleep(max(0.0, start_at - time.time()))
        meter.start()
        time.sleep(max(0.0, start_at + seconds - time.time()))
        server = meter.stop()
        done = [f.result() for f in futures]
        return Result(
            ops=sum(d[0] for d in done),
            seconds=seconds,
            client_cpu_s=sum(d[1] for d in done),
            server_cpu_s=server,
            late_processes=sum(bool(d[2]) for d in done),
        )


def rates(name: str, result: Result) -> Mapping[str, float]:
    """What a round records: the rate, and the CPU figures that explain it."""
    return {
        name: result.per_s,
        f"{name} [server cpu-s/1k]": result.server_cpu_per_1k(),
        f"{name} [client cpu-s/1k]": result.client_cpu_per_1k,
    }
