"""The mesh orchestration, driven with stand-in services: migrate, health, restart, stop."""

from __future__ import annotations

import json
import os
import signal
import textwrap
import threading
import urllib.request
from pathlib import Path

import grpc
import psycopg
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from keel_devstack.embedded import EmbeddedInfra
from keel_devstack.health import wait_serving
from keel_devstack.postgres import answers
from keel_devstack.process import StartError, group_alive
from keel_devstack.progress import Progress
from keel_devstack.services import ServiceDef
from keel_devstack.stack import Stack

STANDIN_DIR = str(Path(__file__).parent / "standin")


def standin(name: str, *, depends_on: tuple[str, ...] = ()) -> ServiceDef:
    return ServiceDef(
        name,
        "standin_service",
        port=0,
        database=f"standin_{name}",
        depends_on=depends_on,
        path=(STANDIN_DIR,),
    )


def check(target: str) -> int:
    with grpc.insecure_channel(target) as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=""), timeout=5
        )
    return int(reply.status)


class Lines(Progress):
    """Progress that also records what it said, and signals on a phrase."""

    def __init__(self) -> None:
        super().__init__()
        self.said: list[str] = []
        self.restarted = threading.Event()

    def say(self, text: str) -> None:
        super().say(text)
        self.said.append(text)
        if "restarted" in text:
            self.restarted.set()


@pytest.fixture
def gateway_stub(tmp_path: Path) -> Path:
    """A gateway/render.py that renders a direct-response Envoy (no descriptor set needed)."""
    (tmp_path / "gateway").mkdir()
    (tmp_path / "gateway" / "render.py").write_text(
        textwrap.dedent(
            """
            import json
            FIRST_CURL = "curl -s {gateway}/hello"

            def render(out_path, *, listen_port, admin_port, clusters, issuer="", audience=""):
                route = {"match": {"prefix": "/"},
                         "direct_response": {"status": 200,
                                             "body": {"inline_string": ",".join(clusters)}}}
                hcm = {"@type": "type.googleapis.com/envoy.extensions.filters.network."
                                "http_connection_manager.v3.HttpConnectionManager",
                       "stat_prefix": "g",
                       "route_config": {"virtual_hosts": [
                           {"name": "g", "domains": ["*"], "routes": [route]}]},
                       "http_filters": [{"name": "envoy.filters.http.router", "typed_config": {
                           "@type": "type.googleapis.com/"
                                    "envoy.extensions.filters.http.router.v3.Router"}}]}
                addr = lambda port: {"socket_address": {"address": "127.0.0.1",
                                                        "port_value": port}}
                config = {"admin": {"address": addr(admin_port)},
                          "static_resources": {"listeners": [{
                              "name": "g", "address": addr(listen_port),
                              "filter_chains": [{"filters": [{
                                  "name": "envoy.filters.network.http_connection_manager",
                                  "typed_config": hcm}]}]}]}}
                out_path.parent.mkdir(parents=True, exist_ok=True)
                out_path.write_text(json.dumps(config))
                return out_path
            """
        )
    )
    return tmp_path


def environment_of(pid: int | None) -> dict[str, str]:
    assert pid is not None
    entries = Path(f"/proc/{pid}/environ").read_bytes().decode().split("\0")
    return dict(entry.split("=", 1) for entry in entries if "=" in entry)


def test_stack_starts_supervises_and_stops(
    tmp_path: Path, keel_infra: EmbeddedInfra, gateway_stub: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    progress = Lines()
    stack = Stack(
        tmp_path,
        infra=keel_infra,
        services=[standin("beta", depends_on=("alpha",)), standin("alpha")],
        preferred_ports=False,
        progress=progress,
        gateway_root=gateway_stub,
    )
    endpoints = stack.start()
    try:
        assert list(endpoints.services) == ["alpha", "beta"]  # dependencies first
        for target in endpoints.services.values():
            assert check(target) == health_pb2.HealthCheckResponse.SERVING
        for name in endpoints.services:
            assert environment_of(stack.processes[name].pid).get("MALLOC_ARENA_MAX") == "2"
        with psycopg.connect(endpoints.databases["beta"]) as conn:
            conn.execute("SELECT count(*) FROM standin_migrated")
        assert endpoints.gateway_url is not None
        with urllib.request.urlopen(endpoints.gateway_url + "/hello", timeout=5) as resp:
            assert resp.read() == b"alpha,beta"
        assert stack.first_curl == f"curl -s {endpoints.gateway_url}/hello"
        assert json.loads(endpoints.to_json())["services"] == endpoints.services

        alpha = stack.processes["alpha"]
        crashed = alpha.pid
        assert crashed is not None
        os.kill(crashed, signal.SIGKILL)
        assert progress.restarted.wait(15), progress.said
        assert alpha.pid != crashed
        wait_serving(alpha, endpoints.services["alpha"], timeout=15)
        assert stack.failed  # a crash happened: the fixture keeps the logs
    finally:
        pids = [p.pid for p in stack.processes.values()]
        stack.stop()
    assert all(pid is not None and not group_alive(pid) for pid in pids)
    assert any("stopped envoy" in line for line in progress.said)


def test_a_service_or_migration_that_dies_while_starting_is_run_again(
    tmp_path: Path, keel_infra: EmbeddedInfra, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = tmp_path / "crashed-once"
    monkeypatch.setenv("STANDIN_CRASH_ONCE", str(marker))
    migrate_marker = tmp_path / "migrate-crashed-once"
    monkeypatch.setenv("STANDIN_MIGRATE_CRASH_ONCE", str(migrate_marker))
    stack = Stack(
        tmp_path,
        infra=keel_infra,
        services=[standin("flaky")],
        preferred_ports=False,
        progress=Lines(),
        gateway_root=tmp_path,
    )
    endpoints = stack.start()
    try:
        assert marker.exists()  # the first start did die
        assert migrate_marker.exists()  # and so did the first migration
        assert check(endpoints.services["flaky"]) == health_pb2.HealthCheckResponse.SERVING
    finally:
        stack.stop()


def test_stack_without_gateway_renderer_warns(tmp_path: Path, keel_infra: EmbeddedInfra) -> None:
    progress = Lines()
    stack = Stack(
        tmp_path,
        infra=keel_infra,
        services=[standin("solo")],
        preferred_ports=False,
        progress=progress,
        gateway_root=tmp_path,
    )
    endpoints = stack.start()
    stack.stop()
    assert endpoints.gateway_url is None
    assert any("without the Envoy gateway" in line for line in progress.said)


def test_missing_service_module_fails_loudly(tmp_path: Path, keel_infra: EmbeddedInfra) -> None:
    stack = Stack(
        tmp_path,
        infra=keel_infra,
        services=[ServiceDef("ghost", "keel_no_such_service", port=0)],
        preferred_ports=False,
    )
    with pytest.raises(StartError, match="keel_no_such_service"):
        stack.start()


def test_the_stack_restarts_its_own_postgres_after_a_kill(
    scratch: Path, gateway_stub: Path
) -> None:
    """Infrastructure is supervised like a service: reaped, restarted, data kept."""
    infra = EmbeddedInfra(scratch / "infra", durable=True)
    progress = Lines()
    stack = Stack(
        scratch / "stack",
        infra=infra,
        services=[standin("alpha")],
        preferred_ports=False,
        progress=progress,
        gateway_root=gateway_stub,
    )
    endpoints = stack.start()
    try:
        assert infra.postgres is not None
        killed = infra.postgres.process.pid
        assert killed is not None
        os.kill(killed, signal.SIGKILL)
        assert progress.restarted.wait(15), progress.said
        assert any(line.startswith("postgres restarted") for line in progress.said)
        assert not Path(f"/proc/{killed}").exists()  # reaped, not left <defunct>
        infra.postgres.process.wait_ready(lambda: answers(infra.postgres_url()), timeout=30)
        with psycopg.connect(endpoints.databases["alpha"]) as conn:
            conn.execute("SELECT count(*) FROM standin_migrated")
    finally:
        stack.stop()
        infra.close()
