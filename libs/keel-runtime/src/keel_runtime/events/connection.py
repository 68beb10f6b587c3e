"""NATS connections with JetStream: long-lived (reconnecting forever) or one-shot (failing fast).

Credentials travel in the URL (``nats://billing:<password>@nats:4222``), like DATABASE_URL's;
the user also names the inbox prefix its replies arrive on (see ``accounts``). Nothing here
logs or raises a URL with its password: use ``redact_url``.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from nats.aio.client import DEFAULT_INBOX_PREFIX, Client
from nats.js import JetStreamContext

from keel_runtime.events.accounts import inbox_prefix

log = logging.getLogger(__name__)


def _servers(url: str) -> list[str]:
    return [server.strip() for server in url.split(",") if server.strip()]


def _user(url: str) -> str | None:
    for server in _servers(url):
        if user := urlsplit(server).username:
            return user
    return None


def _inbox_prefix(url: str) -> str | bytes:
    user = _user(url)
    return inbox_prefix(user) if user else DEFAULT_INBOX_PREFIX


def redact_url(url: str) -> str:
    """``url`` without passwords, for logs and error messages."""
    shown = []
    for server in _servers(url):
        parts = urlsplit(server)
        if parts.password is None:
            shown.append(server)
            continue
        host = parts.netloc.rsplit("@", 1)[1]
        shown.append(parts._replace(netloc=f"{parts.username}:***@{host}").geturl())
    return ",".join(shown)


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
        # Host and port only: the URL's user info holds the password.
        now = nc.connected_url
        log.info("nats reconnected to %s", f"{now.hostname}:{now.port}" if now else "?")

    await nc.connect(
        servers=_servers(url),
        name=name,
        inbox_prefix=_inbox_prefix(url),
        connect_timeout=connect_timeout_s,
        max_reconnect_attempts=-1,
        error_cb=on_error,
        disconnected_cb=on_disconnected,
        reconnected_cb=on_reconnected,
    )
    return nc, nc.jetstream(timeout=connect_timeout_s)


async def connect_nats_once(
    url: str, *, name: str | None = None, timeout_s: float = 5.0
) -> tuple[Client, JetStreamContext]:
    """Connect for a one-shot command: raise on an unreachable broker instead of retrying.

    A refused connection fails at once; ``timeout_s`` bounds a silent one (and each JetStream
    request). The caller drains the client when done.
    """
    nc = Client()

    async def quiet(exc: Exception) -> None:
        # The exception raised from connect() says it all; the callback would only repeat it.
        return None

    await nc.connect(
        servers=_servers(url),
        name=name,
        inbox_prefix=_inbox_prefix(url),
        connect_timeout=timeout_s,
        allow_reconnect=False,
        max_reconnect_attempts=1,
        reconnect_time_wait=0.2,
        error_cb=quiet,
    )
    return nc, nc.jetstream(timeout=timeout_s)
