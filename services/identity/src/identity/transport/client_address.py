"""The client address of a call, for login throttling: forwarded headers only from the gateway.

Behind the gateway the peer is Envoy, which (``use_remote_address``) sets
``x-envoy-external-address`` to the address it saw, and appends that address to
``x-forwarded-for`` (it leaves out the former for internal, e.g. private-range, clients;
earlier ``x-forwarded-for`` entries come from the client and could be forged). Anyone who
reaches the service port directly can send these headers too, so they count only when the
peer is a trusted proxy; from any other peer they are ignored and the peer's own address
is the client address: a forged header cannot spread one attacker's guesses over fresh
addresses.
"""

from __future__ import annotations

import ipaddress
import urllib.parse
from collections.abc import Iterable
from typing import Any

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

DEFAULT_TRUSTED_PROXIES = ("127.0.0.0/8", "::1/128")
"""Loopback: the gateway of ``make run`` and of the test stack runs on the same host."""


def parse_networks(values: Iterable[str]) -> tuple[IpNetwork, ...]:
    """``("10.0.0.0/8", "::1")`` -> networks; raises ValueError naming a bad entry."""
    networks = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError:
            raise ValueError(f"not an IP address or network: {value.strip()!r}") from None
    return tuple(networks)


class ClientAddress:
    def __init__(self, trusted_proxies: Iterable[str] = DEFAULT_TRUSTED_PROXIES) -> None:
        self._trusted = parse_networks(trusted_proxies)

    def of(self, context: Any) -> str:
        peer = peer_host(str(context.peer() or ""))
        if not self._is_trusted(peer):
            return peer
        metadata = dict(context.invocation_metadata() or ())
        if external := str(metadata.get("x-envoy-external-address", "")).strip():
            return external
        if forwarded := str(metadata.get("x-forwarded-for", "")).strip():
            return forwarded.rsplit(",", 1)[-1].strip()
        return peer

    def _is_trusted(self, host: str) -> bool:
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False  # a Unix socket or an unknown peer kind: not the gateway
        return any(address in network for network in self._trusted)


def peer_host(peer: str) -> str:
    """``ipv4:1.2.3.4:5678`` -> ``1.2.3.4``, ``ipv6:%5B::1%5D:5678`` -> ``::1``.

    The port changes with every connection, so it must not be part of the throttle key.
    """
    kind, _, rest = urllib.parse.unquote(peer).partition(":")
    if kind == "ipv6":
        return rest.rpartition("]")[0].lstrip("[") or rest
    if kind == "ipv4":
        return rest.rpartition(":")[0] or rest
    return peer
