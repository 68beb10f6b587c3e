"""P1-P7: the whole mesh started as `make run` starts it, measured through its servers.

Load comes from client processes (load.LoadPool); every figure carries the servers' CPU per
1,000 operations read from /proc, and the clients' beside it. Targets are the performance
goals of the project (docs: "Performance, measured end to end").

Clients reach the services over mutual TLS with the stack's certificates, as Envoy and the
services do: the gateway's for end users and public methods, billing's for the platform's
books. The baselines (the bare echo server, raw psycopg) stay as they were, in plaintext.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import psycopg
from keel.identity.v1 import auth_service_pb2, auth_service_pb2_grpc

from keel_devstack.bench import fixtures, latency, profile, tokens, workloads
from keel_devstack.bench.env import Env, scratch_database
from keel_devstack.bench.grpc_server import LOG_LEVEL_VARIABLE
from keel_devstack.bench.load import LoadPool, Result, rates
from keel_devstack.bench.measure import Outcome, Rates, Row, RowSpec, absolute, interleave, judge
from keel_devstack.bench.proc import CpuMeter, Server, tree_pss_bytes, tree_rss_bytes
from keel_devstack.bench.workloads import HOT_ACCOUNTS
from keel_devstack.certs import MeshCertificates
from keel_devstack.process import START_ATTEMPTS, StartError
from keel_devstack.progress import Progress
from keel_devstack.stack import Endpoints, Stack
from keel_runtime.service import FIRST_PASS_SPREAD_S

NAME = "mesh"
CLIENT_PROCESSES = 2
ACCOUNTS, QUICK_ACCOUNTS = 1000, 100
USAGE_PERIOD, QUICK_USAGE_PERIOD = 20_000, 2_000
USAGE_TENANTS = 4
"""P6: organizations recording at once (two per core)."""
"""Events recorded before the last P6 row, as a period fills up."""
MB = 1024 * 1024
SERVICES = ("identity", "ledger", "items", "billing")
EVENT_RATE = 500.0
"""P4: events a second committed into a producer's outbox (the goal's rate)."""
LOW_EVENT_RATE = 100.0
"""P4: a lower rate beside it, to tell the event path's latency from a backlog's."""
SIGN_UP_RATE = 20.0
"""P4: sign-ups a second; each hashes a password, two shared cores sustain few more."""
THROTTLE_LIMITS = (
    "LOGIN_FREE_FAILURES",
    "LOGIN_MAX_FAILURES_PER_ACCOUNT",
    "LOGIN_MAX_FAILURES_PER_ADDRESS",
)


@dataclass(frozen=True)
class Load:
    """One side of a comparison: a workload, its callers per process, the servers it costs."""

    kind: str
    args: Mapping[str, object]
    slots: int
    servers: tuple[str, ...]
    processes: int | None = None
    """Client processes (default: the pool's)."""


class Mesh:
    """The running stack, its processes, and the client pool that loads it."""

    def __init__(self, env: Env, stack: Stack, endpoints: Endpoints, pool: LoadPool) -> None:
        self.env, self.stack, self.endpoints, self.pool = env, stack, endpoints, pool
        if stack.certs is None:
            raise RuntimeError("the stack started without mesh certificates")
        self.certs: MeshCertificates = stack.certs
        self.servers: dict[str, Server] = {
            name: Server(proc.pid) for name, proc in stack.processes.items() if proc.pid
        }
        infra = env.infra
        if infra.postgres is not None and infra.postgres.process.pid:
            self.servers["postgres"] = Server(infra.postgres.process.pid, tree=True)
        for name, server in (("redis", infra.redis), ("nats", infra.nats)):
            if server is not None and server.process.pid:
                self.servers[name] = Server(server.process.pid)

    def meter(self, names: tuple[str, ...]) -> CpuMeter:
        return CpuMeter({n: self.servers[n] for n in names if n in self.servers})

    def once(self, load: Load) -> Result:
        # Every server is metered: those the load names are its figure, all of them with
        # the clients what it cost the machine.
        result = self.pool.run(
            load.kind,
            load.args,
            slots=load.slots,
            seconds=self.env.settings.seconds,
            meter=self.meter(tuple(self.servers)),
            processes=load.processes,
        )
        spent = result.server_cpu_s
        return replace(
            result,
            server_cpu_s={name: spent[name] for name in load.servers if name in spent},
            stack_cpu_s=sum(spent.values()) + result.client_cpu_s,
        )

    def compare(self, spec: RowSpec, baseline: Load, subject: Load) -> Row:
        """Interleaved rounds of baseline and subject, judged as a ratio."""

        async def base() -> Rates:
            return rates(spec.baseline_key, self.once(baseline))

        async def subj() -> Rates:
            return rates(spec.subject_key, self.once(subject))

        rounds = asyncio.run(interleave(base, subj, self.env.settings, self.env.say))
        return judge(NAME, spec, rounds)

    def repeated(self, load: Load) -> list[Result]:
        results = []
        for index in range(self.env.settings.rounds):
            result = self.once(load)
            self.env.say(
                f"    round {index + 1}: {load.kind} {result.per_s:,.0f}/s, server cpu"
                f" {result.server_cpu_per_1k():.2f}s/1k, client {result.client_cpu_per_1k:.2f}s/1k"
            )
            results.append(result)
        return results


def _cpu_figures(results: list[Result]) -> dict[str, float]:
    figures = {"client subject": statistics.median(r.client_cpu_per_1k for r in results)}
    for name in results[0].server_cpu_s:
        figures[f"server {name}"] = statistics.median(r.server_cpu_per_1k(name) for r in results)
    figures["server subject"] = statistics.median(r.server_cpu_per_1k() for r in results)
    stack = [r.stack_cpu_per_1k for r in results if r.stack_cpu_per_1k is not None]
    if stack:
        figures["stack subject"] = statistics.median(stack)
    return figures


def _per_core(results: list[Result], server: str) -> float:
    """Operations per CPU-second of one server: what one core of it would serve."""
    return statistics.median(r.ops / max(1e-9, r.server_cpu_s.get(server, 0.0)) for r in results)


@contextmanager
def echo_server() -> Iterator[tuple[str, int]]:
    """The bare grpc.aio server of the unary benchmark, in its own process."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "keel_devstack.bench.grpc_server", "bare"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        line = proc.stdout.readline()
        if not line.startswith(b"PORT "):
            raise RuntimeError("the bare echo server did not start")
        yield f"127.0.0.1:{int(line.split()[1])}", proc.pid
    finally:
        proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# Production's trace sampling (deploy/render_gateway.py): the gateway samples this share of
# the requests that bring no decision, and the services follow their caller's decision, or
# sample the same share of the traces they start. `make run` records every request instead;
# what recording every span costs is the grpc benchmark's row, tracing on vs off.
TRACE_SAMPLING_PERCENT = 10.0
PRODUCTION_SAMPLER = {
    "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
    "OTEL_TRACES_SAMPLER_ARG": f"{TRACE_SAMPLING_PERCENT / 100:g}",
}


def _new_stack(env: Env, root: Path) -> Stack:
    return Stack(
        root,
        infra=env.infra,
        preferred_ports=False,
        progress=Progress(sys.stderr, prefix="    [mesh] "),
        env_overrides={
            # As `make run` has it: a JSON access-log line per call at INFO.
            "LOG_LEVEL": os.environ.get(LOG_LEVEL_VARIABLE, "INFO"),
            # Every benchmark login comes from one address for one account, many at once:
            # attempts in flight count until they succeed, so the throttle would refuse them.
            **{name: "1000000" for name in THROTTLE_LIMITS},
            **PRODUCTION_SAMPLER,
        },
        gateway_options={"trace_sampling_percent": TRACE_SAMPLING_PERCENT},
    )


def _started(env: Env, root: Path) -> tuple[Stack, Endpoints, float]:
    """A started stack and its start time. Ports are picked free but other programs on a
    shared machine may take one first: then the whole stack starts again on new ports."""
    for attempt in range(1, START_ATTEMPTS + 1):
        stack = _new_stack(env, root)
        began = time.monotonic()
        try:
            endpoints = stack.start()  # stops what it started when it fails
        except StartError as exc:
            if attempt == START_ATTEMPTS:
                raise
            env.say(f"    stack did not start ({str(exc).splitlines()[0]}); again on new ports")
            continue
        return stack, endpoints, time.monotonic() - began
    raise AssertionError("unreachable")


def run(env: Env) -> Outcome:
    root = Path(tempfile.mkdtemp(prefix="keel-bench-mesh-"))
    # A first start creates databases and compiles bytecode; the second is the warm start.
    first, _, cold = _started(env, root)
    first.stop()
    stack, endpoints, warm = _started(env, root)
    try:
        with LoadPool(CLIENT_PROCESSES) as pool:
            mesh = Mesh(env, stack, endpoints, pool)
            rows, notes = _measure(mesh, warm)
        notes["start_seconds"] = {"first (creates databases)": round(cold, 1), "warm": warm}
        return Outcome(rows, notes)
    finally:
        stack.stop()
        if stack.failed:
            env.say(f"    mesh logs kept in {root / 'log'}")
        else:
            shutil.rmtree(root, ignore_errors=True)


def _measure(mesh: Mesh, warm_start: float) -> tuple[list[Row], dict[str, object]]:
    env, ep, certs = mesh.env, mesh.endpoints, mesh.certs
    rows, pss = _memory_rows(mesh)
    rows.append(
        absolute(
            NAME,
            "P7 stack start to all serving (warm)",
            warm_start,
            target=20.0,
            unit=" s",
            lower_is_better=True,
            why="migrations, four services, Envoy; infrastructure already running",
        )
    )
    notes: dict[str, object] = {"client_processes": CLIENT_PROCESSES, "idle_pss_mb": pss}
    env.say("  fixtures: a tenant, its wallet, ledger accounts")
    tenant = asyncio.run(fixtures.sign_up(ep.services["identity"], certs))
    wallet = asyncio.run(fixtures.wallet(ep.services["ledger"], certs, tenant))
    count = QUICK_ACCOUNTS if env.settings.quick else ACCOUNTS
    accounts = (
        asyncio.run(fixtures.ledger_accounts(ep.services["ledger"], certs, count))
        if env.settings.wants("P3")
        else []
    )
    notes["accounts"] = count
    rows += _reads(mesh, tenant, wallet)
    errors: dict[str, str] = {}
    sections: tuple[tuple[str, Callable[[], list[Row]]], ...] = (
        ("P3", lambda: _postings(mesh, accounts)),
        ("P5", lambda: _sessions(mesh, tenant)),
        ("P6", lambda: _usage(mesh, tenant)),
        ("P4", lambda: _event_latency(mesh, notes)),
    )
    for section, measure in sections:
        if not env.settings.wants(section):
            continue
        try:
            rows += measure()
        except Exception as exc:  # one failed section must not hide the others' figures
            traceback.print_exc()
            errors[section] = f"{type(exc).__name__}: {exc}"[:300]
    notes["errors"] = errors
    return rows, notes


def _reads(mesh: Mesh, tenant: fixtures.Tenant, wallet: str) -> list[Row]:
    """P1 and P2: a read through the mesh, against a bare echo and through Envoy; the
    ledger's profile under each."""
    env, ep, certs = mesh.env, mesh.endpoints, mesh.certs
    rows: list[Row] = []
    read = {
        "target": ep.services["ledger"],
        "certs": certs,
        "account_ids": [wallet],
        "metadata": tenant.metadata,
    }
    grpc_read = Load("get_account", read, 16, ("ledger", "postgres"))
    if env.settings.wants("P1"):
        env.say("  P1 GetAccount vs bare echo:")
        with echo_server() as (echo_target, echo_pid):
            mesh.servers["echo"] = Server(echo_pid)
            rows.append(
                mesh.compare(
                    RowSpec(
                        "P1 GetAccount (PostgreSQL) vs bare echo",
                        "bare grpc.aio echo",
                        "ledger GetAccount",
                        target=0.7,
                        why="a real read: interceptors, validation, one SELECT",
                    ),
                    Load("echo", {"target": echo_target}, 16, ("echo",)),
                    grpc_read,
                )
            )
        _profile(mesh, "ledger", grpc_read, "profile-ledger-p1", "reads")
    if ep.gateway_url and env.settings.wants("P2"):
        env.say("  P2 REST via Envoy vs direct gRPC:")
        rest = {
            "gateway_url": ep.gateway_url,
            "account_ids": [wallet],
            "access_token": tenant.access_token,
        }
        # The receiver writing Envoy's spans is part of the gateway's cost here.
        rest_read = Load(
            "get_account_rest", rest, 16, ("envoy", "trace-sink", "ledger", "postgres")
        )
        rows.append(
            mesh.compare(
                RowSpec(
                    "P2 GetAccount REST via Envoy vs gRPC",
                    "ledger GetAccount",
                    "GET /v1/accounts/{id} via Envoy",
                    target=0.9,
                    why="JWT check and JSON transcoding in Envoy",
                ),
                grpc_read,
                rest_read,
            )
        )
        _profile(mesh, "ledger", rest_read, "profile-ledger-p2", "reads through Envoy")
    return rows


def _memory_rows(mesh: Mesh) -> tuple[list[Row], dict[str, float]]:
    """The P7 rows (RSS, as judged) and each server's PSS beside them: RSS counts the pages
    of libraries the services share in every one of them, PSS divides them among them."""
    # Idle means no requests yet, after start-up work has settled: every periodic job has
    # made its first pass (they are spread over FIRST_PASS_SPREAD_S) and holds what it took.
    time.sleep(FIRST_PASS_SPREAD_S + 1.0)
    rows, total, pss = [], 0, {}
    for name, server in sorted(mesh.servers.items()):
        rss = tree_rss_bytes(server.pid) or 0
        total += rss
        pss[name] = round((tree_pss_bytes(server.pid) or 0) / MB, 1)
        if name in SERVICES:
            rows.append(
                absolute(
                    NAME,
                    f"P7 idle RSS {name}",
                    rss / MB,
                    target=80.0,
                    unit=" MB",
                    lower_is_better=True,
                    why=f"VmRSS from /proc after start, before any load (PSS {pss[name]:.0f} MB)",
                )
            )
    rows.append(
        absolute(
            NAME,
            "P7 idle RSS whole stack",
            total / MB,
            target=1024.0,
            unit=" MB",
            lower_is_better=True,
            why=f"sum over {', '.join(sorted(mesh.servers))} (PostgreSQL backends included;"
            " shared pages counted in each process)",
        )
    )
    pss["whole stack"] = round(sum(pss.values()), 1)
    return rows, pss


def _postings(mesh: Mesh, accounts: list[str]) -> list[Row]:
    env, ep = mesh.env, mesh.endpoints
    rows = []
    with scratch_database(env, "raw") as raw_url:
        fixtures.raw_ledger(raw_url, accounts)
        for hot in (False, True):
            label = f"{HOT_ACCOUNTS if hot else len(accounts)} accounts"
            env.say(f"  P3 postings over {label}:")
            grpc_args = {
                "target": ep.services["ledger"],
                "certs": mesh.certs,
                "account_ids": accounts,
                "metadata": fixtures.service_metadata(),
                "hot": hot,
            }
            raw_args = {"url": raw_url, "account_ids": accounts, "hot": hot}
            rows.append(
                mesh.compare(
                    RowSpec(
                        f"P3 postings via gRPC vs raw psycopg, {label}",
                        f"raw posting tx, {label}",
                        f"CreateTransaction, {label}",
                        target=0.8 if hot else 1.0,
                        why="raw: 1 operation + 2 entries + 2 balance rows FOR UPDATE per commit",
                    ),
                    Load("post_raw", raw_args, 8, ("postgres",)),
                    Load("post_grpc", grpc_args, 8, ("ledger", "postgres")),
                )
            )
            if not hot:
                _profile(
                    mesh,
                    "ledger",
                    Load("post_grpc", grpc_args, 8, ("ledger", "postgres")),
                    "profile-ledger-p3",
                    "postings",
                )
                rows.append(
                    absolute(
                        NAME,
                        f"P3 postings/s via gRPC, {label}",
                        rows[-1].subject_per_s,
                        target=1000.0,
                        unit="/s",
                        why="goal: more than 1,000 postings/s through gRPC over many accounts",
                        cpu=rows[-1].cpu,
                    )
                )
    return rows


def _profile(mesh: Mesh, server: str, load: Load, name: str, unit: str) -> None:
    """One more window of `load` with py-spy on `server`, saved beside the results."""
    env, out_dir = mesh.env, mesh.env.output_dir
    if out_dir is None:
        return
    seconds = max(3.0, env.settings.seconds)
    env.say(f"  profiling {server} under {load.kind} load for {seconds:g}s (py-spy)")
    samplers: list[subprocess.Popen[bytes]] = []

    def sample() -> None:
        samplers.extend(profile.start(mesh.servers[server].pid, seconds, out_dir, name))

    result = mesh.pool.run(
        load.kind,
        load.args,
        slots=load.slots,
        seconds=seconds,
        meter=mesh.meter(load.servers),
        on_start=sample,
    )
    summary = profile.finish(samplers, out_dir, name)
    env.say(
        f"    {result.per_s:,.0f} {unit}/s while sampled;"
        f" {summary if summary else 'py-spy not available: no profile'}"
    )


def _sessions(mesh: Mesh, tenant: fixtures.Tenant) -> list[Row]:
    env, ep = mesh.env, mesh.endpoints
    creds = {
        "target": ep.services["identity"],
        "certs": mesh.certs,
        "email": tenant.email,
        "password": fixtures.PASSWORD,
    }
    rows = []
    for kind, slots, target, why in (
        ("login", 4, 15.0, "argon2id verify + a session; Keycloak's figure is 15/s per core"),
        ("refresh", 8, 240.0, "rotate a refresh token: one locked row, one insert, a signature"),
    ):
        env.say(f"  P5 {kind}:")
        results = mesh.repeated(Load(kind, creds, slots, ("identity", "postgres", "redis")))
        rows.append(
            absolute(
                NAME,
                f"P5 {kind}/s per identity core",
                _per_core(results, "identity"),
                target=target,
                unit="/s",
                why=f"{why}; measured {statistics.median(r.per_s for r in results):,.0f}/s"
                " in all over the shared cores",
                cpu=_cpu_figures(results),
            )
        )
    env.say("  P5 token checks (in process, as every service runs them):")
    jwks = asyncio.run(_jwks(ep.services["identity"], mesh.certs))
    for label, first_sight, target, why in (
        (
            "P5 token checks/s per core",
            False,
            10000.0,
            "keel_runtime.tokens: a token seen before (expiry, deny set), one process",
        ),
        (
            "P5 token first-sight verifications/s per core",
            True,
            5000.0,
            "Ed25519 signature + claims of a token not seen before, once per token; the"
            " signature check alone is ~8,000/s per core on these machines",
        ),
    ):
        per_core = statistics.median(
            tokens.checks_per_cpu_second(
                tenant.access_token, jwks, env.settings.seconds, first_sight=first_sight
            )
            for _ in range(env.settings.rounds)
        )
        rows.append(absolute(NAME, label, per_core, target=target, unit="/s", why=why))
    return rows


async def _jwks(identity: str, certs: MeshCertificates) -> bytes:
    async with fixtures.mesh_channel(identity, certs) as channel:
        stub = auth_service_pb2_grpc.AuthServiceStub(channel)
        return bytes((await stub.GetJwks(auth_service_pb2.GetJwksRequest())).data)


def _usage(mesh: Mesh, tenant: fixtures.Tenant) -> list[Row]:
    env, ep = mesh.env, mesh.endpoints
    args = {"target": ep.services["billing"], "certs": mesh.certs, "metadata": tenant.metadata}
    rows = []
    for kind, slots, label in (("usage", 16, "single"), ("usage_batch", 2, "batch of 100")):
        env.say(f"  P6 usage ingestion, {label}:")
        load = Load(kind, args, slots, ("billing", "postgres"))
        row, _ = _usage_row(
            mesh, load, label, "RecordUsage, a tenth of the keys repeated (deduplicated)"
        )
        rows.append(row)
        _profile(mesh, "billing", load, f"profile-billing-p6-{kind}", "events")
    # One organization's usage is recorded one transaction after another (its bounds are
    # checked under its subscription's lock): the rows above are one tenant's ceiling. A
    # metering pipeline sends many organizations' events at once.
    env.say(f"  P6 usage ingestion, batch of 100, {USAGE_TENANTS} organizations at once:")
    others = [
        asyncio.run(fixtures.sign_up(ep.services["identity"], mesh.certs))
        for _ in range(USAGE_TENANTS - 1)
    ]
    tenants_args = {**args, "tenants": [t.metadata for t in (tenant, *others)]}
    row, backlog = _usage_row(
        mesh,
        Load("usage_batch_tenants", tenants_args, USAGE_TENANTS, ("billing", "postgres"), 1),
        f"batch of 100, {USAGE_TENANTS} organizations",
        f"RecordUsageBatch, one call in flight per organization, {USAGE_TENANTS} at once",
    )
    rows.append(row)
    if backlog.events:
        # Accepted is not published: what the relay sustains is the rate past which the
        # outbox only grows.
        rows.append(
            absolute(
                NAME,
                "P6 usage events published/s, draining that backlog",
                backlog.published_per_s,
                target=5000.0,
                unit="/s",
                why="billing's relay publishing the recorded events (one JetStream message"
                f" each), {backlog.events - backlog.left:,} in {backlog.seconds:.1f}s,"
                " no load beside it",
            )
        )
    # What one event costs once the period holds many: flat if the bounds read running
    # totals, growing with the period if they aggregate its records.
    filled = QUICK_USAGE_PERIOD if env.settings.quick else USAGE_PERIOD
    env.say(f"  P6 usage ingestion, single, {filled:,} more events in the period:")
    asyncio.run(
        fixtures.usage_period(
            ep.services["billing"], mesh.certs, tenant, filled, workloads.USAGE_METRIC
        )
    )
    row, _ = _usage_row(
        mesh,
        Load("usage", args, 16, ("billing", "postgres")),
        f"single, {filled:,} more in the period",
        "as single, after a period's worth of events: the cost must not grow with it",
    )
    rows.append(row)
    return rows


def _usage_row(mesh: Mesh, load: Load, label: str, why: str) -> tuple[Row, Backlog]:
    """Rounds of ``load``, then billing's relay backlog they left (waited for)."""
    results = mesh.repeated(load)
    backlog = _relay_backlog(mesh, "billing")
    row = absolute(
        NAME,
        f"P6 usage events/s, {label}",
        statistics.median(r.per_s for r in results),
        target=5000.0,
        unit="/s",
        why=why + backlog.why(),
        cpu=_cpu_figures(results),
    )
    return row, backlog


RELAY_DRAIN_WAIT_S = 120.0


@dataclass(frozen=True)
class Backlog:
    """What a service's relay had not published when a row's rounds ended, and its drain."""

    events: int
    seconds: float
    """Until the outbox was empty (or RELAY_DRAIN_WAIT_S passed)."""
    left: int
    """Still unpublished when the wait gave up."""

    @property
    def published_per_s(self) -> float:
        """The relay's rate while draining: what it sustains with no load beside it."""
        return (self.events - self.left) / self.seconds if self.seconds > 0 else 0.0

    def why(self) -> str:
        if not self.events:
            return "; the relay kept up"
        left = f", {self.left:,} still not" if self.left else ""
        return (
            f"; {self.events:,} events not yet published when the load stopped,"
            f" {self.seconds:.1f}s to publish them{left}"
        )


def _relay_backlog(mesh: Mesh, service: str) -> Backlog:
    """The events a service's relay had not published when the rounds ended, waited for.

    Each recorded usage event is one JetStream message: the API accepts a burst faster than
    the relay publishes, and the outbox holds the difference. Said beside the row, so a rate
    above what the relay sustains reads as the burst it is; waited for, so the next row does
    not start under this one's backlog.
    """
    url = mesh.endpoints.databases[service]
    began = time.monotonic()
    with psycopg.connect(url, autocommit=True) as conn:
        backlog = unpublished = _unpublished(conn)
        while unpublished and time.monotonic() - began < RELAY_DRAIN_WAIT_S:
            time.sleep(0.1)
            unpublished = _unpublished(conn)
    found = Backlog(backlog, time.monotonic() - began, unpublished)
    mesh.env.say(f"    relay backlog {backlog:,} events, {found.seconds:.1f}s to publish them")
    return found


def _unpublished(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute("SELECT count(*) FROM outbox WHERE published_at IS NULL").fetchone()
    return int(row[0]) if row else 0


def _event_latency(mesh: Mesh, notes: dict[str, object]) -> list[Row]:
    env, ep = mesh.env, mesh.endpoints
    quick = env.settings.quick
    identity_db, ledger_db = ep.databases["identity"], ep.databases["ledger"]
    # Real sign-ups first, on a quiet mesh, at what the password hash leaves room for.
    rate, seconds = (5.0, 2.0) if quick else (SIGN_UP_RATE, 5.0)
    env.say(f"  P4 sign-up -> wallet latency at {rate:g}/s for {seconds:g}s:")
    signed = latency.sign_ups(
        ep.services["identity"], mesh.certs, identity_db, ledger_db, rate, seconds
    )
    notes["sign_up_latency"] = asdict(signed)
    _say_latency(env, signed)
    rows = [
        absolute(
            NAME,
            f"P4 sign-up -> wallet p99 at {rate:g}/s",
            signed.p99_ms,
            target=50.0,
            unit=" ms",
            lower_is_better=True,
            why=f"CreateOrganization (argon2 hash, ~30 ms of a core) -> ledger wallet;"
            f" p50 {signed.p50_ms:.0f} ms, {signed.late_sends} sends late",
        )
    ]
    # The goal's rate last: a backlog it leaves behind would disturb what follows.
    seconds = 1.0 if quick else 5.0
    for rate, labels in ((LOW_EVENT_RATE, ("p99",)), (EVENT_RATE, ("p50", "p99"))):
        env.say(f"  P4 outbox commit -> wallet latency at {rate:g}/s for {seconds:g}s:")
        meter = mesh.meter(tuple(mesh.servers))
        sender_before = time.process_time()
        meter.start()
        found = latency.outbox_commits(identity_db, ledger_db, rate, seconds)
        spent = {**meter.stop(), "sender (bench)": time.process_time() - sender_before}
        notes[f"event_latency_{rate:g}_per_s"] = asdict(found)
        notes[f"event_cpu_ms_per_event_{rate:g}_per_s"] = _per_event_ms(spent, found.events)
        _say_latency(env, found)
        _say_event_cpu(env, spent, found.events)
        why = (
            f"identity.organization.created committed in identity's outbox -> ledger wallet"
            f" committed; {found.events} events at {found.sent_per_s:,.0f}/s,"
            f" {found.late_sends} commits late (>50 ms behind schedule)"
            + (f", {found.unfinished} not done in time (lower bound)" if found.unfinished else "")
            + (f"; relay part p99 {found.relay_p99_ms:.0f} ms" if found.relay_p99_ms else "")
            + _event_cpu_why(spent, found.events)
        )
        suffix = "" if rate == EVENT_RATE else f" at {rate:g}/s"
        rows += [
            absolute(
                NAME,
                f"P4 event latency {label}{suffix}",
                found.p50_ms if label == "p50" else found.p99_ms,
                target=50.0,
                unit=" ms",
                lower_is_better=True,
                why=why,
            )
            for label in labels
        ]
    return rows


def _per_event_ms(spent: dict[str, float], events: int) -> dict[str, float]:
    return {name: round(1000.0 * cpu / max(1, events), 2) for name, cpu in spent.items()}


def _event_cpu_why(spent: dict[str, float], events: int) -> str:
    total = sum(_per_event_ms(spent, events).values())
    return (
        f"; {total:.1f} ms CPU per event over the stack: two cores carry <= {2000.0 / total:,.0f}/s"
        if total
        else ""
    )


def _say_event_cpu(env: Env, spent: dict[str, float], events: int) -> None:
    """What one event costs the whole machine, commit to wallet: the sum over every process
    (from the first commit until the last wallet is seen) bounds the rate two cores carry."""
    per_event = _per_event_ms(spent, events)
    total = sum(per_event.values())
    parts = ", ".join(
        f"{name} {ms:.2f}"
        for name, ms in sorted(per_event.items(), key=lambda kv: -kv[1])
        if ms >= 0.01
    )
    env.say(
        f"    CPU per event {total:.2f} ms over every process ({parts});"
        f" two cores carry at most {2000.0 / total:,.0f} events/s"
        if total
        else "    no CPU seen"
    )


def _say_latency(env: Env, found: latency.Latency) -> None:
    env.say(
        f"    p50 {found.p50_ms:.1f} ms, p99 {found.p99_ms:.1f} ms, max {found.max_ms:.1f} ms"
        f" over {found.events} at {found.sent_per_s:,.0f}/s ({found.late_sends} late,"
        f" {found.unfinished} unfinished)"
    )
    if found.relay_p50_ms is not None and found.relay_p99_ms is not None:
        env.say(
            f"    of which commit -> relay pass: p50 {found.relay_p50_ms:.1f} ms,"
            f" p99 {found.relay_p99_ms:.1f} ms"
        )
