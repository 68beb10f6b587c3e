"""The supervisor restarts a crashed process with backoff and stops restarting on stop()."""

from __future__ import annotations

import os
import signal
import sys
import threading
from pathlib import Path

from keel_devstack.process import ManagedProcess, group_alive
from keel_devstack.supervisor import Supervisor

SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]


def test_restarts_a_crashed_process(tmp_path: Path) -> None:
    proc = ManagedProcess("sleeper", SLEEPER, log_path=tmp_path / "sleeper.log")
    proc.start()
    restarted = threading.Event()
    lines: list[str] = []

    def report(line: str) -> None:
        lines.append(line)
        if "restarted" in line:
            restarted.set()

    supervisor = Supervisor(report, min_backoff=0.05, interval=0.02)
    supervisor.watch(proc)
    supervisor.start()
    try:
        first = proc.pid
        assert first is not None
        os.kill(first, signal.SIGKILL)
        assert restarted.wait(10), lines
        assert proc.alive and proc.pid != first
        assert supervisor.restarts == {"sleeper": 1}
        assert "exited with code -9" in lines[0]
    finally:
        supervisor.stop()
        proc.stop()
    assert proc.pid is not None and not group_alive(proc.pid)


def test_backoff_doubles_up_to_a_cap() -> None:
    supervisor = Supervisor(print, min_backoff=0.5, max_backoff=4.0)
    assert [supervisor.backoff(n) for n in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]


def test_crash_loop_keeps_restarting_until_stopped(tmp_path: Path) -> None:
    crasher = ManagedProcess(
        "crasher", [sys.executable, "-c", "raise SystemExit(3)"], log_path=tmp_path / "c.log"
    )
    crasher.start()
    third = threading.Event()
    lines: list[str] = []

    def report(line: str) -> None:
        lines.append(line)
        if line.startswith("crasher restarted") and len(lines) >= 6:
            third.set()

    supervisor = Supervisor(report, min_backoff=0.01, max_backoff=0.05, interval=0.01)
    supervisor.watch(crasher)
    supervisor.start()
    try:
        assert third.wait(20), lines
    finally:
        supervisor.stop()
        crasher.stop()
    after_stop = len(lines)
    assert all("code 3" in line for line in lines if "exited" in line)
    assert supervisor.restarts["crasher"] >= 3
    assert len(lines) == after_stop
