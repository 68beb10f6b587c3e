"""Keeps a background task alive: a crash is logged loudly and restarted with backoff."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

logger = logging.getLogger("keel.background")


def task_name(factory: Callable[..., object]) -> str:
    return getattr(factory, "__qualname__", None) or repr(factory)


async def supervise(
    factory: Callable[[], Awaitable[None]],
    *,
    name: str | None = None,
    initial_backoff: float = 1.0,
    max_backoff: float = 30.0,
    stable_after: float = 60.0,
) -> None:
    """Run ``factory()`` until cancelled; restart it after a crash (1 s, 2 s, 4 s ... 30 s).

    A task that ran ``stable_after`` seconds before crashing starts again from the initial
    backoff. A task that returns on its own is taken to be finished and is not restarted.
    """
    label = name or task_name(factory)
    loop = asyncio.get_running_loop()
    backoff = initial_backoff
    restarts = 0
    while True:
        started = loop.time()
        try:
            await factory()
        except asyncio.CancelledError:
            raise
        except Exception:
            if loop.time() - started >= stable_after:
                backoff = initial_backoff
            restarts += 1
            logger.exception(
                "background task crashed; restarting",
                extra={"task": label, "restart_in_s": backoff, "restarts": restarts},
            )
        else:
            logger.warning("background task returned; not restarting", extra={"task": label})
            return
        await asyncio.sleep(backoff)
        backoff = min(backoff * 2, max_backoff)
