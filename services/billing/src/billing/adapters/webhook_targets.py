"""Where billing may send webhooks: the SSRF guard (the WebhookTargets port).

A webhook URL is checked when the endpoint is created and again before every delivery, after
resolving its host: every address must be public (see `address_refusal`). The delivery then
connects to the address that was checked — not to the name, which a second DNS answer could
point elsewhere (DNS rebinding). Hosts in `allowed_hosts` (``WEBHOOK_ALLOWED_HOSTS``, for
local development) skip the address check and may use plain http.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from billing.domain.errors import WebhookUrlRefused
from billing.domain.webhook import address_refusal

Resolver = Callable[[str, int], Awaitable[list[str]]]
_PORTS = {"http": 80, "https": 443}


async def system_resolver(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class PinnedTarget:
    """A URL rewritten to the checked address, with what keeps the request addressed to the
    original host (Host header, TLS server name)."""

    url: str
    host_header: str
    server_name: str | None
    address: str


class WebhookTargets:
    def __init__(
        self,
        allowed_hosts: Iterable[str] = (),
        *,
        resolver: Resolver = system_resolver,
        timeout_s: float = 2.0,
    ) -> None:
        self._allowed = {h.strip().lower().strip("[]") for h in allowed_hosts if h.strip()}
        self._resolve = resolver
        self._timeout = timeout_s

    async def check(self, url: str) -> None:
        """Refuse an endpoint URL at creation. A name that does not resolve yet is accepted:
        every delivery checks again."""
        parts, host = self._parse(url)
        if host in self._allowed:
            return
        try:
            addresses = await self._addresses(host, parts)
        except WebhookUrlRefused as exc:
            if exc.metadata.get("why") == "unresolvable":
                return
            raise
        self._require_public(host, addresses)

    async def pin(self, url: str) -> PinnedTarget:
        """The address to connect to for a delivery, checked; WebhookUrlRefused otherwise."""
        parts, host = self._parse(url)
        addresses = await self._addresses(host, parts)
        if host not in self._allowed:
            self._require_public(host, addresses)
        address = addresses[0]
        literal = f"[{address}]" if ":" in address else address
        port = parts.port or _PORTS[parts.scheme]
        pinned = parts._replace(netloc=f"{literal}:{port}").geturl()
        host_header = parts.netloc.rsplit("@", 1)[-1]
        server_name = host if parts.scheme == "https" and not _is_ip(host) else None
        return PinnedTarget(pinned, host_header, server_name, address)

    def _parse(self, url: str) -> tuple[SplitResult, str]:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if parts.scheme not in _PORTS or not host:
            raise WebhookUrlRefused("webhook URLs are http(s) URLs with a host", why="scheme")
        if parts.scheme != "https" and host not in self._allowed:
            raise WebhookUrlRefused("webhook URLs must use https", host=host, why="plain http")
        named_loopback = host == "localhost" or host.endswith(".localhost")
        if named_loopback and host not in self._allowed:
            raise WebhookUrlRefused(
                "webhook URLs may not point at loopback addresses", host=host, why="loopback"
            )
        return parts, host

    async def _addresses(self, host: str, parts: SplitResult) -> list[str]:
        if _is_ip(host):
            return [host]
        try:
            async with asyncio.timeout(self._timeout):
                addresses = await self._resolve(host, parts.port or _PORTS[parts.scheme])
        except (OSError, TimeoutError):
            addresses = []
        if not addresses:
            raise WebhookUrlRefused(
                "the webhook host does not resolve", host=host, why="unresolvable"
            )
        return addresses

    @staticmethod
    def _require_public(host: str, addresses: list[str]) -> None:
        for address in addresses:
            why = address_refusal(address)
            if why:
                # The address itself stays out of the answer: no map of the internal network.
                raise WebhookUrlRefused(
                    f"webhook URLs may not point at {why} addresses", host=host, why=why
                )
