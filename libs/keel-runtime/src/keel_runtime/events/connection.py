"""NATS connection with JetStream, reconnecting forever and logging its state changes."""

from __future__ import annotations

import logging

from nats.aio.client import Client
from nats.js import JetStreamContext

log = logging.getLogger(__name__)


async def connect_nats(
    url: str, *, name: str | None = None, connect_timeout_s: float = 5.0
) -> tuple[Client, JetStreamContext]:
    """Connect to ``url`` (comma-separated for a cluster); the caller drains it on shutdown."""
    nc = Client()

    async def on_error(exc: Exception) -> None:
        log.warning("nats error: %s", exc)

    async def on_disconnected() -> None:
        # Closing or draining on shutdown disconnects too; that is not worth a warning.
        if not (nc.is_closed or nc.is_draining):
            log.warning("nats disconnected")

    async def on_reconnected() -> None:
        url = nc.connected_url
        log.info("nats reconnected to %s", url.netloc if url else "?")

    await nc.connect(
        servers=[server.strip() for server in url.split(",") if server.strip()],
        name=name,
        connect_timeout=connect_timeout_s,
        max_reconnect_attempts=-1,
        error_cb=on_error,
        disconnected_cb=on_disconnected,
        reconnected_cb=on_reconnected,
    )
    return nc, nc.jetstream(timeout=connect_timeout_s)
