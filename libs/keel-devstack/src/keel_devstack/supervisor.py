"""Restart crashed service processes with exponential backoff."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from keel_devstack.process import ManagedProcess

Report = Callable[[str], None]


@dataclass
class _Watched:
    process: ManagedProcess
    started_at: float
    failures: int = 0
    restart_at: float | None = None


class Supervisor:
    """Watches processes; one that exits is started again after a growing delay.

    The delay doubles from `min_backoff` up to `max_backoff` and resets once a process has
    stayed up for `stable_after` seconds, so a crash loop cannot spin the CPU.
    """

    def __init__(
        self,
        report: Report,
        *,
        min_backoff: float = 0.5,
        max_backoff: float = 30.0,
        stable_after: float = 30.0,
        interval: float = 0.2,
    ) -> None:
        self._report = report
        self._min = min_backoff
        self._max = max_backoff
        self._stable_after = stable_after
        self._interval = interval
        self._watched: list[_Watched] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.restarts: dict[str, int] = {}

    def watch(self, process: ManagedProcess) -> None:
        with self._lock:
            self._watched.append(_Watched(process, time.monotonic()))

    def backoff(self, failures: int) -> float:
        """Delay before the restart that follows `failures` recent crashes."""
        return float(min(self._max, self._min * 2**failures))

    def poll(self) -> None:
        """One pass: schedule restarts for exited processes, perform those that are due."""
        now = time.monotonic()
        with self._lock:
            for item in self._watched:
                proc = item.process
                if proc.alive:
                    if item.failures and now - item.started_at > self._stable_after:
                        item.failures = 0
                    continue
                if item.restart_at is None:
                    delay = self.backoff(item.failures)
                    item.failures += 1
                    item.restart_at = now + delay
                    self._report(
                        f"{proc.name} exited with code {proc.returncode};"
                        f" restarting in {delay:.1f}s (see {proc.log_path})"
                    )
                elif now >= item.restart_at and not self._stop.is_set():
                    proc.stop(timeout=1.0)  # reap, and kill any orphaned children
                    proc.start()
                    item.started_at = now
                    item.restart_at = None
                    self.restarts[proc.name] = self.restarts.get(proc.name, 0) + 1
                    self._report(f"{proc.name} restarted (pid {proc.pid})")

    def run(self) -> None:
        """Poll until `stop()`; call from the main thread to keep the kernel's death signal."""
        while not self._stop.wait(self._interval):
            self.poll()

    def start(self) -> None:
        """Poll in a background thread."""
        self._thread = threading.Thread(target=self.run, name="keel-supervisor", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
