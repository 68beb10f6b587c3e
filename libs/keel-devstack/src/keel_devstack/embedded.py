"""Embedded infrastructure started on demand: one of each server, shared by a session."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar

from keel_devstack import certs
from keel_devstack.nats import Nats, start_nats
from keel_devstack.ports import free_port, is_free
from keel_devstack.postgres import Postgres, start_postgres
from keel_devstack.process import START_ATTEMPTS, StartError, install_signal_handlers
from keel_devstack.redis import Redis, start_redis
from keel_runtime.events.accounts import OPERATOR

T = TypeVar("T")


class EmbeddedInfra:
    """Starts PostgreSQL, Redis and NATS the first time each is asked for.

    Each URL comes from the environment (DATABASE_URL, REDIS_URL, NATS_URL) when set;
    only the missing ones are embedded, under `root` (a temporary directory by default,
    removed on close).

    With ``tls`` (`make run`, the ``mesh`` fixture) the infrastructure has a CA of its own,
    issued under `root`/tls on first use with every workload's certificate (``certs``): a
    stack on it uses that CA, its NATS server takes mutual TLS clients only, and PostgreSQL
    TLS connections only where its build allows (``keel_devstack.postgres``). Without it
    (the session's servers shared by component and integration tests) both are plaintext.
    """

    def __init__(
        self,
        root: Path | None = None,
        *,
        durable: bool = False,
        log_dir: Path | None = None,
        ports: Mapping[str, int] | None = None,
        tls: bool = False,
    ) -> None:
        self._root = root
        self._owns_root = root is None
        self._durable = durable
        self._log_dir = log_dir
        self._ports = dict(ports or {})
        self._tls = tls
        self._certs: certs.MeshCertificates | None = None
        self.postgres: Postgres | None = None
        self.redis: Redis | None = None
        self.nats: Nats | None = None

    @property
    def root(self) -> Path:
        if self._root is None:
            # Directly under the temp dir and world-traversable: under root, postgres
            # runs as an unprivileged user that must reach its data directory.
            self._root = Path(tempfile.mkdtemp(prefix="keel-devstack-"))
            self._root.chmod(0o755)
        return self._root

    @property
    def certs(self) -> certs.MeshCertificates | None:
        """The stack's CA and workload certificates, issued anew on first use; None: no TLS."""
        if self._tls and self._certs is None:
            self._certs = certs.issue(self.root / "tls")
        return self._certs

    @property
    def postgres_embedded(self) -> bool:
        return not os.environ.get("DATABASE_URL")

    def postgres_url(self) -> str:
        if not self.postgres_embedded:
            return os.environ["DATABASE_URL"]
        if self.postgres is None:
            install_signal_handlers()
            self.postgres = self._on_a_free_port(
                "postgres",
                lambda port: start_postgres(
                    self.root / "postgres",
                    durable=self._durable,
                    port=port,
                    log_path=self._log("postgres"),
                    tls=self.certs["postgres"] if self.certs is not None else None,
                ),
            )
        return self.postgres.url

    def redis_url(self) -> str:
        if url := os.environ.get("REDIS_URL"):
            return url
        if self.redis is None:
            install_signal_handlers()
            self.redis = self._on_a_free_port(
                "redis",
                lambda port: start_redis(
                    self.root / "redis", port=port, log_path=self._log("redis")
                ),
            )
        return self.redis.url

    def nats_url(self) -> str:
        """The operator's URL (every permission): the tests' and the operator commands'."""
        return self.nats_url_for(OPERATOR)

    def nats_url_for(self, user: str) -> str:
        """``user``'s URL (a service name or ``operator``); an external NATS_URL as it is.

        A workload with no user in keel_runtime.events.accounts gets the bare address, which
        the server refuses: it has no business on NATS.
        """
        if url := os.environ.get("NATS_URL"):
            return url
        if self.nats is None:
            install_signal_handlers()
            server_tls = self.certs["nats"] if self.certs is not None else None
            self.nats = self._on_a_free_port(
                "nats",
                lambda port: start_nats(
                    self.root / "nats", port=port, log_path=self._log("nats"), tls=server_tls
                ),
            )
        return self.nats.url_for(user) if user in self.nats.passwords else self.nats.url

    def _on_a_free_port(self, name: str, start: Callable[[int], T]) -> T:
        """Start a server on a free port, again on another one if a program took it first.

        A port is free when chosen, but anything may bind it before the server does (another
        checkout's stack starting at the same moment); the server then exits.
        """
        port = free_port(self._ports.get(name))
        for attempt in range(1, START_ATTEMPTS + 1):
            try:
                return start(port)
            except StartError:
                if attempt == START_ATTEMPTS or is_free(port):
                    raise  # not a port lost to another program
                port = free_port()
        raise AssertionError("unreachable")

    def _log(self, name: str) -> Path | None:
        return self._log_dir / f"{name}.log" if self._log_dir else None

    def close(self, report: Callable[[str], None] | None = None) -> None:
        """Stop what was started (newest first) and remove a temporary root."""
        throwaway_cluster = None
        if self._owns_root and self.postgres is not None and self.postgres.relocated:
            throwaway_cluster = self.postgres.cluster.parent
        for name, server in (
            ("nats", self.nats),
            ("redis", self.redis),
            ("postgres", self.postgres),
        ):
            if server is not None:
                began = time.monotonic()
                server.stop()
                if report is not None:
                    report(f"stopped {name} in {time.monotonic() - began:.1f}s")
        self.nats = self.redis = self.postgres = None
        if self._owns_root and self._root is not None:
            shutil.rmtree(self._root, ignore_errors=True)
            self._root = None
        if throwaway_cluster is not None:
            shutil.rmtree(throwaway_cluster, ignore_errors=True)
