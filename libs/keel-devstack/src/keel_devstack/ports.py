"""Free TCP ports on 127.0.0.1, preferring a stable one for humans when it is free."""

from __future__ import annotations

import socket

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
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port: int = sock.getsockname()[1]
        if port not in taken and port not in RESERVED:
            taken.add(port)
            return port


_HANDED_OUT: set[int] = set()
