"""Free TCP ports on 127.0.0.1, preferring a stable one for humans when it is free."""

from __future__ import annotations

import random
import socket
from pathlib import Path

# The machine may run its own servers on these; an embedded server must never take them.
RESERVED = frozenset({5432, 6379, 4222, 8222})


def is_free(port: int) -> bool:
    """True if 127.0.0.1:port can be bound right now."""
    if port in RESERVED:
        return False
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port(preferred: int | None = None, *, taken: set[int] | None = None) -> int:
    """Return `preferred` if it is free, else a port the kernel picks.

    `taken` collects ports handed out in this process: the kernel may offer a port again
    until a server has bound it, so two servers started together must not share one.
    """
    taken = taken if taken is not None else _HANDED_OUT
    if preferred and preferred not in taken and is_free(preferred):
        taken.add(preferred)
        return preferred
    # Ports the kernel hands out for bind(0) come from the ephemeral range, which outgoing
    # connections also draw their source ports from: one may take a port between our check
    # and the server's bind. Below that range only servers bind.
    low, high = 20000, _ephemeral_start()
    for _ in range(50 if high > low else 0):
        candidate = random.randrange(low, high)
        if candidate not in taken and is_free(candidate):
            taken.add(candidate)
            return candidate
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port: int = sock.getsockname()[1]
        if port not in taken and port not in RESERVED:
            taken.add(port)
            return port


def _ephemeral_start() -> int:
    """The first port of the kernel's ephemeral range (32768 when it cannot be read)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


_HANDED_OUT: set[int] = set()
