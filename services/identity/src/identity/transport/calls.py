"""What the servicers read from a call: the principal as an Actor, the client address."""

from __future__ import annotations

import urllib.parse
from typing import Any, TypeAlias

from identity.domain.model import Actor
from identity.transport import mapping
from keel_runtime.context import require_principal

# grpc ships no type information, so the servicer context is untyped here.
Context: TypeAlias = Any


def actor() -> Actor:
    return mapping.actor(require_principal())


def client_address(context: Context) -> str:
    """The caller's address, for per-address login throttling.

    Behind the gateway the peer is Envoy. Envoy (use_remote_address) sets
    x-envoy-external-address and appends the address it saw to x-forwarded-for; entries
    before that last one come from the client and could be forged, so they are ignored.
    """
    metadata = dict(context.invocation_metadata() or ())
    if external := metadata.get("x-envoy-external-address"):
        return str(external).strip()
    if forwarded := metadata.get("x-forwarded-for"):
        return str(forwarded).rsplit(",", 1)[-1].strip()
    return peer_host(str(context.peer() or ""))


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
