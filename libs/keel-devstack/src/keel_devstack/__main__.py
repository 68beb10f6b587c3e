"""`python -m keel_devstack run`: the whole mesh on this machine (what `make run` does)."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

from keel_devstack import shell_env
from keel_devstack.embedded import EmbeddedInfra
from keel_devstack.process import StartError, install_signal_handlers
from keel_devstack.progress import Progress
from keel_devstack.services import SERVICES, ServiceDef
from keel_devstack.stack import INFRA_PORTS, Endpoints, Stack, repo_root
from keel_devstack.tail import Tailer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m keel_devstack", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="start everything; Ctrl-C stops it")
    run.add_argument("--verbose", "-v", action="store_true", help="tail every log here")
    run.add_argument(
        "--only",
        metavar="SVC[,SVC]",
        help="start only these services (and what they depend on)",
    )
    run.add_argument("--var", type=Path, default=None, help="state directory (default: <repo>/var)")
    env = commands.add_parser("env", help="a running stack's addresses as shell exports")
    env.add_argument("--state", type=Path, default=None, help="stack.json to read")
    args = parser.parse_args(argv)
    if args.command == "env":
        return print_env(args.state or shell_env.default_state_path())
    only = set(args.only.split(",")) if args.only else None
    return run_stack(args.var or repo_root() / "var", verbose=args.verbose, only=only)


def print_env(state: Path) -> int:
    try:
        values = shell_env.variables(shell_env.read_state(state))
    except (OSError, ValueError) as exc:
        print(f"echo {shlex.quote(str(exc))} >&2; false")  # fails the caller's eval visibly
        return 1
    sys.stdout.write(shell_env.render(values))
    return 0


def run_stack(
    var: Path,
    *,
    verbose: bool,
    only: set[str] | None,
    services: Sequence[ServiceDef] = SERVICES,
    gateway_root: Path | None = None,
) -> int:
    """Start everything, print where it runs, supervise until Ctrl-C/SIGTERM, stop it all."""
    install_signal_handlers()
    var = var.resolve()
    var.mkdir(parents=True, exist_ok=True)
    state = var / "run" / "stack.json"
    progress = Progress()
    # TLS: the stack's CA is made first, so NATS can take mutual TLS clients only.
    infra = EmbeddedInfra(var, durable=True, log_dir=var / "log", ports=INFRA_PORTS, tls=True)
    # The supervisor polls on this (main) thread: processes it restarts keep the kernel's
    # parent-death signal, so even a SIGKILLed `make run` leaves nothing behind.
    stack = Stack(
        var,
        infra=infra,
        services=services,
        only=only,
        progress=progress,
        gateway_root=gateway_root,
        supervise_in_thread=False,
    )
    tailer: Tailer | None = None
    wrote_state = False  # a refused second run must not remove the running stack's state
    progress.say(f"Keel local stack (state in {var}; Ctrl-C stops everything)")
    try:
        endpoints = stack.start()
        state.parent.mkdir(parents=True, exist_ok=True)
        # Owner-only: it holds the operator's NATS password (and database URLs).
        state.unlink(missing_ok=True)
        state.touch(mode=0o600)
        state.write_text(endpoints.to_json())
        wrote_state = True
        progress.say(summary(stack, endpoints, var, infra))
        if verbose:
            tailer = Tailer(var / "log", progress.stream)
            tailer.start()
        stack.supervisor.run()
    except StartError as exc:
        progress.say(f"\nfailed to start: {exc}")
        return 1
    except KeyboardInterrupt:
        progress.say("\nstopping…")
    finally:
        if tailer is not None:
            tailer.stop()
        if wrote_state:
            state.unlink(missing_ok=True)
        stack.stop()
        infra.close(report=progress.say)
        progress.say("stopped.")
    return 0


def _external(component: str) -> bool:
    var = {"postgres": "DATABASE_URL", "redis": "REDIS_URL", "nats": "NATS_URL"}[component]
    return bool(os.environ.get(var))


def _postgres_data(infra: EmbeddedInfra, var: Path) -> Path:
    # Under root in a private checkout the cluster lives outside it (see keel_devstack.postgres).
    return infra.postgres.cluster if infra.postgres is not None else var / "postgres"


def summary(stack: Stack, endpoints: Endpoints, var: Path, infra: EmbeddedInfra) -> str:
    """The table of what runs where, and commands to try."""
    log = var / "log"

    def infra_row(name: str, url: str, data: str) -> tuple[str, str, str]:
        if _external(name):
            return (name, url, "external (from the environment)")
        return (name, url, f"{data}, log {log / (name + '.log')}")

    postgres_data = str(_postgres_data(infra, var))
    if infra.postgres is not None and infra.postgres.tls_ca is None:
        # The pgserver wheel's build has no OpenSSL (keel_devstack.postgres).
        postgres_data += " (plaintext: this build has no TLS; KEEL_PG_BIN picks one with it)"
    rows = [
        infra_row("postgres", endpoints.database_url, postgres_data),
        infra_row("redis", endpoints.redis_url, "in memory"),
        infra_row("nats", endpoints.nats_url, str(var / "nats" / "jetstream")),
    ]
    for name, target in endpoints.services.items():
        rows.append((name, f"grpc {target}", f"log {log / (name + '.log')}"))
        if name in endpoints.metrics:
            rows.append(("", f"metrics http://{endpoints.metrics[name]}/metrics", ""))
    if endpoints.gateway_url:
        rows.append(("gateway", endpoints.gateway_url, f"log {log / 'envoy.log'}"))
        rows.append(("envoy admin", str(endpoints.envoy_admin_url), ""))
    if endpoints.trace_sink:
        spans = Path(endpoints.traces) / "envoy.jsonl"
        rows.append(
            ("trace sink", f"otlp {endpoints.trace_sink}", f"{spans}, log {log / 'trace-sink.log'}")
        )
    rows.insert(0, ("component", "address", "data / log"))
    width = [max(len(row[i]) for row in rows) for i in range(2)]
    lines = [""] + [f"  {a:<{width[0]}}  {b:<{width[1]}}  {c}" for a, b, c in rows]
    first_target = next(iter(endpoints.services.values()), None)
    lines += ["", "Try:"]
    if stack.first_curl:
        lines.append(f"  {stack.first_curl}")
    if first_target and endpoints.tls:
        # Services require mutual TLS: the operator's certificate, fresh on every start.
        tls = endpoints.tls
        lines.append(
            "  .venv/bin/buf curl --protocol grpc --reflect"
            f" --cacert {tls['ca_file']} --cert {tls['operator_cert']} --key {tls['operator_key']}"
            f" https://{first_target}/grpc.health.v1.Health/Check"
        )
    elif first_target:
        lines.append(
            "  .venv/bin/buf curl --protocol grpc --http2-prior-knowledge --reflect"
            f" http://{first_target}/grpc.health.v1.Health/Check"
        )
    if endpoints.gateway_url:
        lines.append(f"  API docs: {endpoints.gateway_url}/docs")
    lines.append("  make demo   (in another terminal: sign-up, login, events, reads, errors)")
    if endpoints.traces:
        lines.append(
            f"  make traces ID=<request id>   (a request's trace; spans in {endpoints.traces})"
        )
    lines.append(f"  (endpoints in {var / 'run' / 'stack.json'})")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
