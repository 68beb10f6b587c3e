"""The whole local mesh: infrastructure, migrations, services under a supervisor, gateway."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from keel_devstack import certs, gateway
from keel_devstack.datakeys import checkpoint_key, data_keys
from keel_devstack.embedded import EmbeddedInfra
from keel_devstack.envoy import Envoy, start_envoy
from keel_devstack.health import wait_serving
from keel_devstack.ports import free_port, is_free
from keel_devstack.process import START_ATTEMPTS, ManagedProcess, StartError
from keel_devstack.progress import Progress
from keel_devstack.roles import ServiceRoles, ensure_database, ensure_roles, login_url, roles_for
from keel_devstack.services import SERVICES, ServiceDef, in_start_order
from keel_devstack.supervisor import Supervisor
from keel_devstack.trace_sink import TraceSink, start_trace_sink
from keel_runtime.tls import TlsSettings

JWT_ISSUER = "keel-identity"
JWT_AUDIENCE = "keel"
GATEWAY_PORT = 8080
ENVOY_ADMIN_PORT = 9901
# Stable ports for `make run`, so URLs can be reused between runs; never the machine's own.
INFRA_PORTS = {"postgres": 15432, "redis": 16379, "nats": 14222}
# A service's preferred /metrics port is its gRPC port plus this (identity 51051, ...).
METRICS_PORT_OFFSET = 1000
TRACES_VARIABLE = "KEEL_TRACES_FILE"
MALLOC_ARENA_MAX = "2"
# Envoy's spans reach the trace files through a local OTLP/gRPC receiver (trace_sink).
TRACE_SINK_PORT = 14317


@dataclass
class Endpoints:
    """Where everything runs; also written to var/run/stack.json."""

    services: dict[str, str]
    """gRPC target (host:port) per service name."""
    database_url: str
    """Server admin URL; each service's own database is in `databases`."""
    databases: dict[str, str]
    nats_url: str
    """The NATS server's address, without credentials (anonymous clients are refused);
    ``tls://`` when it takes mutual TLS clients only (then present ``operator_tls()``)."""
    redis_url: str
    gateway_url: str | None = None
    nats_operator_url: str = ""
    """NATS URL with the operator's credentials (replay, dead letters, tests)."""
    envoy_admin_url: str | None = None
    logs: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, str] = field(default_factory=dict)
    """Prometheus endpoint (host:port, path /metrics) per service name."""
    tls: dict[str, str] = field(default_factory=dict)
    """The mesh CA (``ca_file``), the operator's client certificate and key (``operator_cert``,
    ``operator_key``) and the directory of every workload's files (``dir``, ``<workload>.pem``
    and ``<workload>-key.pem``): every service requires mutual TLS."""
    secrets: str = ""
    """Directory of the generated database role passwords and data key (0600 files)."""
    traces: str = ""
    """Directory of the services' span files (``<service>.jsonl``), read by
    ``python -m keel_runtime.traces``; "" when the stack runs without them."""
    trace_sink: str = ""
    """host:port of the OTLP/gRPC receiver writing the gateway's spans to ``envoy.jsonl``
    there; "" without trace files."""

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2) + "\n"

    def operator_tls(self) -> TlsSettings | None:
        """The operator's certificate as clients take it (NATS, gRPC); None without TLS."""
        if not self.tls:
            return None
        return TlsSettings(
            cert_file=Path(self.tls["operator_cert"]),
            key_file=Path(self.tls["operator_key"]),
            ca_file=Path(self.tls["ca_file"]),
        )


def repo_root() -> Path:
    """KEEL_ROOT, else the checkout this package is installed (editable) from."""
    if root := os.environ.get("KEEL_ROOT"):
        return Path(root)
    return Path(__file__).resolve().parents[4]


def database_url_for(server_url: str, database: str) -> str:
    base, _, rest = server_url.rpartition("/")
    _, sep, query = rest.partition("?")
    return f"{base}/{database}{sep}{query}"


class Stack:
    """Starts the mesh in order and stops it in reverse; `start()` returns the endpoints."""

    def __init__(
        self,
        root: Path,
        *,
        infra: EmbeddedInfra,
        services: Sequence[ServiceDef] = SERVICES,
        only: set[str] | None = None,
        preferred_ports: bool = True,
        progress: Progress | None = None,
        env_overrides: Mapping[str, str] | None = None,
        gateway_options: Mapping[str, Any] | None = None,
        gateway_root: Path | None = None,
        supervise_in_thread: bool = True,
    ) -> None:
        self.root = root
        self.log_dir = root / "log"
        self.traces_dir = root / "traces"
        self.infra = infra
        self.services = in_start_order(tuple(services), only)
        self.preferred_ports = preferred_ports
        self.progress = progress or Progress()
        self.env_overrides = dict(env_overrides or {})
        # Extra keyword arguments for gateway/render.py's render() (those it accepts).
        self.gateway_options = dict(gateway_options or {})
        self.gateway_root = gateway_root if gateway_root is not None else repo_root()
        self.supervisor = Supervisor(self.progress.say)
        self._supervise_in_thread = supervise_in_thread
        self.processes: dict[str, ManagedProcess] = {}
        self.envoy: Envoy | None = None
        self.trace_sink: TraceSink | None = None
        self.endpoints: Endpoints | None = None
        self.first_curl: str | None = None
        self.certs: certs.MeshCertificates | None = None
        self._start_failed = False
        self.roles: dict[str, ServiceRoles] = {}
        """Each service's owner (migrates) and runtime (serves) database roles."""

    @property
    def failed(self) -> bool:
        """True once a start failed or a process crashed: its logs are worth keeping."""
        return self._start_failed or bool(self.supervisor.restarts)

    # -- start ---------------------------------------------------------------------------

    def start(self) -> Endpoints:
        try:
            return self._start()
        except BaseException:
            self._start_failed = True
            self.stop()
            raise

    def _start(self) -> Endpoints:
        self._check_modules()
        server_url = self._step("postgres", self.infra.postgres_url)
        redis_url = self._step("redis", self.infra.redis_url)
        nats_operator_url = self._step("nats", self.infra.nats_url)
        databases = {
            svc.name: database_url_for(server_url, svc.database)
            for svc in self.services
            if svc.database
        }
        self._create_databases(server_url)
        # Fresh certificates on every start: nothing from an earlier run stays trusted. An
        # infrastructure with TLS already made them: its NATS server's certificate is of them.
        self.certs = self.infra.certs or certs.issue(self.root / "tls")
        operator = self.certs["operator"]
        targets = {svc.name: f"127.0.0.1:{self._port(svc.port)}" for svc in self.services}
        metrics = {
            svc.name: f"127.0.0.1:{self._port(svc.port and svc.port + METRICS_PORT_OFFSET)}"
            for svc in self.services
        }
        self.endpoints = Endpoints(
            services=targets,
            database_url=server_url,
            databases=databases,
            nats_url=self.infra.nats.url if self.infra.nats else nats_operator_url,
            nats_operator_url=nats_operator_url,
            redis_url=redis_url,
            metrics=metrics,
            tls={
                "dir": str(self.certs.directory),
                "ca_file": str(self.certs.ca_file),
                "operator_cert": str(operator.cert_file),
                "operator_key": str(operator.key_file),
            },
            secrets=str(self._secrets_dir),
            traces=str(self.traces_dir) if TRACES_VARIABLE not in os.environ else "",
        )
        self._supervise_infra()
        self._migrate()
        self._start_services()
        if self._supervise_in_thread:
            self.supervisor.start()
        self._start_gateway()
        self.endpoints.logs = {name: str(p.log_path) for name, p in self.processes.items()}
        return self.endpoints

    def _step(self, name: str, start: Callable[[], str]) -> str:
        self.progress.begin(name)
        began = time.monotonic()
        url = start()
        self.progress.done(f"ready in {time.monotonic() - began:.1f}s")
        return url

    def _port(self, preferred: int) -> int:
        return free_port(preferred if self.preferred_ports else None)

    def _check_modules(self) -> None:
        missing = [svc.module for svc in self.services if not svc.importable()]
        if missing:
            raise StartError(
                f"service package(s) not importable: {', '.join(missing)}"
                " (run `make install`; each lives in services/<name>/src)"
            )

    def _create_databases(self, server_url: str) -> None:
        """Per service: its owner and runtime roles, and its database owned by the owner."""
        passwords = self._secrets_dir / "postgres-roles.json"
        for svc in self.services:
            if svc.database:
                roles = roles_for(f"keel_{svc.name}", passwords)
                ensure_roles(server_url, roles)
                ensure_database(server_url, svc.database, roles.owner.role)
                self.roles[svc.name] = roles

    @property
    def _secrets_dir(self) -> Path:
        return self.root / "secrets"

    def _database_url(self, svc: ServiceDef, *, owner: bool = False) -> str:
        assert self.endpoints is not None and svc.database
        roles = self.roles[svc.name]
        login = roles.owner if owner else roles.runtime
        return login_url(self.endpoints.database_url, svc.database, login)

    def _env(self, svc: ServiceDef) -> dict[str, str]:
        assert self.endpoints is not None
        env = dict(os.environ)
        # glibc gives each thread that allocates its own malloc arena, which keeps what the
        # thread freed: identity's hashing threads would each hold an argon2 buffer (19 MiB).
        # Two arenas bound that, as the deploy manifests do; a value already set is kept.
        env.setdefault("MALLOC_ARENA_MAX", MALLOC_ARENA_MAX)
        env.update(
            GRPC_BIND=self.endpoints.services[svc.name],
            METRICS_BIND=self.endpoints.metrics[svc.name],
            # Each service's own NATS user: it publishes only its own events (accounts.py).
            NATS_URL=self.infra.nats_url_for(svc.name),
            REDIS_URL=self.endpoints.redis_url,
            LOG_LEVEL=os.environ.get("LOG_LEVEL", "INFO"),
            JWT_ISSUER=JWT_ISSUER,
            JWT_AUDIENCE=JWT_AUDIENCE,
            PYTHONUNBUFFERED="1",
        )
        if "ledger" in self.endpoints.services:
            env["LEDGER_TARGET"] = self.endpoints.services["ledger"]
        if "identity" in self.endpoints.services and svc.name != "identity":
            # Where every other service reads identity's keys to verify access tokens.
            env["IDENTITY_TARGET"] = self.endpoints.services["identity"]
        if TRACES_VARIABLE not in os.environ:
            # Spans to a local file per service (set it, even empty, to choose otherwise).
            env[TRACES_VARIABLE] = str(self.traces_dir / f"{svc.name}.jsonl")
        if svc.name in self.endpoints.databases:
            env["DATABASE_URL"] = self._database_url(svc)  # the runtime role: rows only
            env["DATA_ENCRYPTION_KEYS"] = data_keys(self._secrets_dir / "data-keys")
        if svc.name == "ledger":
            # Outside the database, kept across runs: checkpoints verify after a restart.
            env["LEDGER_CHECKPOINT_KEY"] = checkpoint_key(
                self._secrets_dir / "ledger-checkpoint-key"
            )
        if self.certs is not None and svc.name in self.certs.workloads:
            env.update(self.certs[svc.name].env())
        env.update(self.env_overrides)
        env.update(svc.env)
        if svc.path:
            env["PYTHONPATH"] = os.pathsep.join([*svc.path, env.get("PYTHONPATH", "")])
        return env

    def _migration_env(self, svc: ServiceDef) -> dict[str, str]:
        # Only the migration holds the owner's password.
        return {**self._env(svc), "MIGRATION_DATABASE_URL": self._database_url(svc, owner=True)}

    def _migrate(self) -> None:
        """Run every service's migrations at once (they touch separate databases)."""
        began = time.monotonic()
        running: list[ManagedProcess] = []
        try:
            for svc in self.services:
                if not svc.database:
                    continue
                log_path = self.log_dir / f"{svc.name}.migrate.log"
                log_path.unlink(missing_ok=True)
                proc = ManagedProcess(
                    f"{svc.name} migrate",
                    svc.argv(sys.executable, "migrate"),
                    log_path=log_path,
                    # Only the migration holds the owner's password.
                    env={
                        **self._env(svc),
                        "MIGRATION_DATABASE_URL": self._database_url(svc, owner=True),
                    },
                )
                proc.start()
                running.append(proc)
            if not running:
                return
            self.progress.begin("migrations")
            failed = [
                f"{proc.name} exited with code {code} (log {proc.log_path}):\n{proc.log_tail(15)}"
                for proc in running
                if (code := self._migrated(proc)) != 0
            ]
        finally:
            for proc in running:  # only does something if we were interrupted
                proc.stop(timeout=2.0)
        if failed:
            raise StartError("\n".join(failed))
        self.progress.done(f"done in {time.monotonic() - began:.1f}s")

    @staticmethod
    def _migrated(proc: ManagedProcess) -> int:
        """Exit code of a migration, run again when it dies: each is one transaction under
        an advisory lock, so a second run finishes what a crashed first one rolled back."""
        code = proc.wait(timeout=120)
        for _ in range(START_ATTEMPTS - 1):
            if code == 0:
                break
            print(f"  {proc.name} exited with code {code}; running it again", file=sys.stderr)
            proc.start()
            code = proc.wait(timeout=120)
        return code

    def _start_services(self) -> None:
        """Spawn all at once (ports are known up front), then wait in dependency order."""
        assert self.endpoints is not None
        spawned = time.monotonic()
        for svc in self.services:
            proc = ManagedProcess(
                svc.name,
                svc.argv(sys.executable, "serve"),
                log_path=self.log_dir / f"{svc.name}.log",
                env=self._env(svc),
            )
            proc.start()
            self.processes[svc.name] = proc
        for svc in self.services:
            self.progress.begin(svc.name)
            self._wait_started(self.processes[svc.name], self.endpoints.services[svc.name])
            self.progress.done(f"ready in {time.monotonic() - spawned:.1f}s")
            self.supervisor.watch(self.processes[svc.name])

    def _wait_started(self, proc: ManagedProcess, target: str) -> None:
        """Wait for SERVING; a process that dies while starting is started again, as the
        supervisor would once it runs, and only a repeated failure stops the stack."""
        for attempt in range(1, START_ATTEMPTS + 1):
            try:
                wait_serving(proc, target, tls=self._probe_tls(proc.name))
                return
            except StartError as exc:
                if proc.alive or attempt == START_ATTEMPTS:
                    raise
                first_line = str(exc).splitlines()[0]
                print(f"  {first_line}; starting it again", file=sys.stderr, flush=True)
                proc.start()

    def _probe_tls(self, service: str) -> certs.WorkloadFiles | None:
        """The readiness probe calls health as the operator's tools do, over mutual TLS
        wherever the service was given a certificate."""
        if self.certs is None or service not in self.certs.workloads:
            return None
        return self.certs["operator"]

    def _start_gateway(self) -> None:
        assert self.endpoints is not None
        renderer = gateway.load_renderer(self.gateway_root)
        if renderer is None:
            self.progress.say(
                f"warning: {self.gateway_root / 'gateway' / 'render.py'} not found;"
                " starting without the Envoy gateway"
            )
            return
        self._check_descriptor(renderer)
        self._start_trace_sink(renderer)
        self.progress.begin("envoy")
        began = time.monotonic()
        # Ports are free when chosen but another program may bind one before Envoy does:
        # then Envoy exits, and it is started again on ports chosen anew.
        preferred = self.preferred_ports
        for attempt in range(1, START_ATTEMPTS + 1):
            listen_port = free_port(GATEWAY_PORT if preferred else None)
            admin_port = free_port(ENVOY_ADMIN_PORT if preferred else None)
            config = self._render_gateway(renderer, listen_port, admin_port)
            try:
                self.envoy = start_envoy(
                    config,
                    admin_port=admin_port,
                    listen_ports=[listen_port],
                    log_path=self.log_dir / "envoy.log",
                )
                break
            except StartError:
                if attempt == START_ATTEMPTS or (is_free(listen_port) and is_free(admin_port)):
                    raise  # not a port lost to another program
                preferred = False
        assert self.envoy is not None
        self.progress.done(f"ready in {time.monotonic() - began:.1f}s")
        self.processes["envoy"] = self.envoy.process
        self.supervisor.watch(self.envoy.process)
        self.endpoints.gateway_url = f"http://127.0.0.1:{listen_port}"
        self.endpoints.envoy_admin_url = f"http://127.0.0.1:{admin_port}"
        self.first_curl = gateway.first_curl(renderer, self.endpoints.gateway_url)

    def _render_gateway(self, renderer: ModuleType, listen_port: int, admin_port: int) -> Path:
        assert self.endpoints is not None
        clusters = {
            name: (host, int(port))
            for name, target in self.endpoints.services.items()
            for host, _, port in [target.rpartition(":")]
        }
        return gateway.render(
            renderer,
            self.root / "envoy" / "envoy.json",
            listen_port=listen_port,
            admin_port=admin_port,
            clusters=clusters,
            issuer=JWT_ISSUER,
            audience=JWT_AUDIENCE,
            tls=self.certs["gateway"] if self.certs is not None else None,
            options={**self._gateway_tracing(), **self.gateway_options},
        )

    # -- the gateway's spans ---------------------------------------------------------------

    def _start_trace_sink(self, renderer: ModuleType) -> None:
        """The receiver of Envoy's spans when the services write trace files (and the
        gateway's renderer can trace), supervised like the services. Its port is free when
        chosen, but another program may bind it first: then it starts again on a port
        chosen anew."""
        assert self.endpoints is not None
        if not self.endpoints.traces or not gateway.accepts(renderer, "trace_collector"):
            return
        directory = Path(self.endpoints.traces)
        self.progress.begin("trace sink")
        began = time.monotonic()
        preferred = self.preferred_ports
        for attempt in range(1, START_ATTEMPTS + 1):
            port = free_port(TRACE_SINK_PORT if preferred else None)
            try:
                self.trace_sink = start_trace_sink(
                    directory / "envoy.jsonl", port=port, log_path=self.log_dir / "trace-sink.log"
                )
                break
            except StartError:
                if attempt == START_ATTEMPTS or is_free(port):
                    raise  # not a port lost to another program
                preferred = False
        assert self.trace_sink is not None
        self.progress.done(f"ready in {time.monotonic() - began:.1f}s")
        self.processes["trace-sink"] = self.trace_sink.process
        self.supervisor.watch(self.trace_sink.process)
        self.endpoints.trace_sink = f"127.0.0.1:{self.trace_sink.port}"

    def _gateway_tracing(self) -> dict[str, Any]:
        """gateway/render.py's options for Envoy's spans: to the receiver, when it runs."""
        if self.trace_sink is None:
            return {}
        return {"trace_collector": ("127.0.0.1", self.trace_sink.port)}

    def _supervise_infra(self) -> None:
        """Embedded servers are restarted (and reaped) like services when they die."""
        for server in (self.infra.postgres, self.infra.redis, self.infra.nats):
            if server is not None:
                self.supervisor.watch(server.process)

    def _check_descriptor(self, renderer: ModuleType) -> None:
        path = gateway.descriptor_set(renderer)
        if path is not None and not path.exists():
            raise StartError(f"gateway descriptor set {path} is missing: run `make gen` first")

    # -- faults --------------------------------------------------------------------------

    def process(self, name: str) -> ManagedProcess:
        """A component's process: a service, ``envoy``, or ``postgres``/``redis``/``nats``."""
        if name in self.processes:
            return self.processes[name]
        server = getattr(self.infra, name, None) if name in INFRA_PORTS else None
        if server is None:
            raise KeyError(f"no component {name!r} in this stack")
        process: ManagedProcess = server.process
        return process

    def signal(self, name: str, sig: signal.Signals) -> int:
        """Send ``sig`` to a component's main process (fault tests: SIGKILL, SIGSTOP, SIGCONT)
        and return its pid; the supervisor restarts what dies."""
        pid = self.process(name).pid
        if pid is None:
            raise KeyError(f"{name} is not running")
        os.kill(pid, sig)
        return pid

    # -- stop ----------------------------------------------------------------------------

    def stop(self) -> None:
        """Supervisor first (no restarts while stopping), the gateway, then every service.

        Services stop together: each drains for a moment after reporting NOT_SERVING
        (GRPC_DRAIN_SECONDS), and one after another those waits would add up.
        """
        self.supervisor.stop()
        if envoy := self.processes.pop("envoy", None):
            self._stop_one("envoy", envoy)
        stopping = [
            threading.Thread(target=self._stop_one, args=(name, proc), name=f"stop-{name}")
            for name, proc in reversed(list(self.processes.items()))
        ]
        for thread in stopping:
            thread.start()
        for thread in stopping:
            thread.join()
        self.processes.clear()
        self.envoy = None
        self.trace_sink = None

    def _stop_one(self, name: str, proc: ManagedProcess) -> None:
        began = time.monotonic()
        proc.stop(timeout=15.0)
        self.progress.say(f"stopped {name} in {time.monotonic() - began:.1f}s")
