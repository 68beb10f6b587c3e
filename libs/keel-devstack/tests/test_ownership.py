"""A stack trusts only the servers it started: another checkout's servers are never adopted.

Two checkouts on one machine (or two developers on a shared box) both prefer the same ports.
A readiness probe alone is answered by whichever server holds the port, so readiness also
asks whether the process we started listens on it.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from keel_devstack import embedded
from keel_devstack.embedded import EmbeddedInfra
from keel_devstack.ports import free_port
from keel_devstack.process import StartError, listens
from keel_devstack.redis import ping, start_redis


def test_listens_tells_our_listener_from_others() -> None:
    with socket.socket() as server, socket.socket() as client:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        assert listens(os.getpid(), port)
        assert not listens(os.getpid(), free_port())
        client.connect(("127.0.0.1", port))  # an outgoing connection is not a listener
        assert not listens(os.getpid(), client.getsockname()[1])
    assert not listens(os.getpid(), port)  # closed


def test_a_foreign_server_on_our_port_is_not_adopted(scratch: Path) -> None:
    foreign = start_redis(scratch / "foreign")
    try:
        # Our redis cannot bind the port and exits; the foreign one still answers PING.
        with pytest.raises(StartError, match="exited"):
            start_redis(scratch / "ours", port=foreign.port)
        assert ping(foreign.port)
    finally:
        foreign.stop()


def test_a_port_lost_to_another_program_is_chosen_again(
    scratch: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    foreign = start_redis(scratch / "foreign")
    handed_out: list[int] = []

    def racing_free_port(preferred: int | None = None) -> int:
        # The first port handed out is the one another stack binds before ours can.
        port = foreign.port if not handed_out else free_port(preferred)
        handed_out.append(port)
        return port

    monkeypatch.setattr(embedded, "free_port", racing_free_port)
    infra = EmbeddedInfra(scratch / "infra")
    try:
        url = infra.redis_url()
        assert infra.redis is not None and infra.redis.port != foreign.port
        assert url.endswith(f":{infra.redis.port}/0") and ping(infra.redis.port)
        assert infra.redis.process.pid is not None
        assert listens(infra.redis.process.pid, infra.redis.port)
        assert handed_out[0] == foreign.port and len(handed_out) == 2
    finally:
        infra.close()
        foreign.stop()
