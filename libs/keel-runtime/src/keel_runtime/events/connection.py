"""NATS connections with JetStream: long-lived (reconnecting forever) or one-shot (failing fast).

Credentials travel in the URL (``nats://billing:<password>@nats:4222``), like DATABASE_URL's;
the user also names the inbox prefix its replies arrive on (see ``accounts``). Nothing here
logs or raises a URL with its password: use ``redact_url``.

The URL's scheme says how to reach the broker. ``nats://`` is plaintext. ``tls://`` is mutual
TLS from the first byte: the client presents the workload's certificate (``tls``, the same
TlsSettings its gRPC server and clients use), verifies the server against the mesh CA and
the host name dialled, and only then reads the server's INFO and sends its password. NATS
would otherwise greet in plaintext and upgrade only if that greeting asks for TLS, so whoever
answers on the port could drop the request and read the password (the servers run with
``handshake_first``). A ``tls://`` URL without TLS settings is refused, never connected
without verification.
"""

from __future__ import annotations

import logging
import ssl
from typing import Any
from urllib.parse import urlsplit

from nats.aio.client import DEFAULT_INBOX_PREFIX, Client
from nats.js import JetStreamContext

from keel_runtime.events.accounts import inbox_prefix
from keel_runtime.tls import TlsSettings, client_ssl_context

log = logging.getLogger(__name__)

TLS_SCHEME = "tls"
PLAIN_SCHEME = "nats"


class _QuietTlsClose(logging.Filter):
    """asyncio warns on every close of a nats-py connection over TLS (the stream asks to stay
    half-open, which TLS cannot); nothing is wrong, and operators' commands would print it."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "eof_received() has no effect when using ssl" not in record.getMessage()


logging.getLogger("asyncio").addFilter(_QuietTlsClose())


class NatsTlsError(ValueError):
    """The URL and the TLS settings disagree: nothing was sent."""


def _servers(url: str) -> list[str]:
    return [server.strip() for server in url.split(",") if server.strip()]


def uses_tls(url: str) -> bool:
    """True for ``tls://`` servers; a URL mixing ``tls://`` and ``nats://`` is refused."""
    schemes = {urlsplit(server).scheme or PLAIN_SCHEME for server in _servers(url)}
    if schemes == {TLS_SCHEME}:
        return True
    if schemes <= {PLAIN_SCHEME}:
        return False
    raise NatsTlsError(
        f"NATS URL {redact_url(url)}: every server must be tls:// (or every one nats://)"
    )


def tls_options(url: str, tls: TlsSettings | None) -> dict[str, Any]:
    """nats-py connect options for ``url``: TLS first with ``tls`` for ``tls://``, none else."""
    if not uses_tls(url):
        return {}
    if tls is None:
        raise NatsTlsError(
            f"NATS URL {redact_url(url)} is tls:// but no client certificate is configured"
            " (TLS_CERT_FILE, TLS_KEY_FILE, TLS_CA_FILE)"
        )
    context: ssl.SSLContext = client_ssl_context(tls)
    return {"tls": context, "tls_handshake_first": True}


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
    url: str,
    *,
    name: str | None = None,
    connect_timeout_s: float = 5.0,
    tls: TlsSettings | None = None,
) -> tuple[Client, JetStreamContext]:
    """Connect to ``url`` (comma-separated for a cluster); the caller drains it on shutdown.

    ``tls`` is the workload's certificate, presented to ``tls://`` servers (module doc).
    """
    secure = tls_options(url, tls)
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
        **secure,
    )
    return nc, nc.jetstream(timeout=connect_timeout_s)


async def connect_nats_once(
    url: str,
    *,
    name: str | None = None,
    timeout_s: float = 5.0,
    tls: TlsSettings | None = None,
) -> tuple[Client, JetStreamContext]:
    """Connect for a one-shot command: raise on an unreachable broker instead of retrying.

    A refused connection fails at once; ``timeout_s`` bounds a silent one (and each JetStream
    request). The caller drains the client when done. ``tls`` as for ``connect_nats``.
    """
    secure = tls_options(url, tls)
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
        **secure,
    )
    return nc, nc.jetstream(timeout=timeout_s)
