"""Background supervision: crashes are logged and restarted with growing backoff."""

from __future__ import annotations

import asyncio
import logging

import pytest

from keel_runtime.supervisor import supervise


async def test_crash_is_logged_and_restarted_with_backoff(
    caplog: pytest.LogCaptureFixture,
) -> None:
    attempts: list[float] = []
    running = asyncio.Event()
    loop = asyncio.get_running_loop()

    async def relay() -> None:
        attempts.append(loop.time())
        if len(attempts) < 3:
            raise ConnectionError("nats down")
        running.set()
        await asyncio.Event().wait()

    task = asyncio.create_task(
        supervise(relay, name="outbox-relay", initial_backoff=0.01, max_backoff=0.02)
    )
    await asyncio.wait_for(running.wait(), timeout=5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert len(attempts) == 3
    crashes = [r for r in caplog.records if r.name == "keel.background"]
    assert [(r.levelno, r.__dict__["task"], r.__dict__["restart_in_s"]) for r in crashes] == [
        (logging.ERROR, "outbox-relay", 0.01),
        (logging.ERROR, "outbox-relay", 0.02),
    ]
    assert all(r.exc_info and r.exc_info[0] is ConnectionError for r in crashes)


async def test_task_that_returns_is_not_restarted(caplog: pytest.LogCaptureFixture) -> None:
    runs: list[int] = []

    async def once() -> None:
        runs.append(1)

    await asyncio.wait_for(supervise(once, initial_backoff=0.01), timeout=5)
    assert runs == [1]
    [record] = [r for r in caplog.records if r.name == "keel.background"]
    assert record.levelno == logging.WARNING
