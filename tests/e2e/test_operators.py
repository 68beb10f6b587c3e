"""Operators' view: gRPC health and server reflection on every service and on the gateway."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import grpc
import pytest
from e2e_support import workload_channel
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from keel_devstack.stack import Endpoints

pytestmark = pytest.mark.e2e

BUF = Path(sys.executable).parent / "buf"
SERVICES = ["identity", "ledger", "items", "billing"]


def _buf_curl(
    url: str, *extra: str, mesh: Endpoints | None = None
) -> subprocess.CompletedProcess[str]:
    """buf curl as an operator runs it: with the operator's certificate against a service
    (``mesh`` given; every service requires mutual TLS), in plaintext against the gateway."""
    argv = [str(BUF), "curl", "--protocol", "grpc", "--reflect"]
    if mesh is None:
        argv.append("--http2-prior-knowledge")
    else:
        tls = mesh.tls
        argv += ["--cacert", tls["ca_file"], "--cert", tls["operator_cert"]]
        argv += ["--key", tls["operator_key"]]
    return subprocess.run(
        [*argv, *extra, url], capture_output=True, text=True, timeout=30, check=False
    )


@pytest.mark.parametrize("name", [*SERVICES, "gateway"])
def test_buf_curl_health_check_answers(mesh: Endpoints, name: str) -> None:
    assert BUF.exists(), f"{BUF} missing: run `make install`"
    if name == "gateway":
        done = _buf_curl(f"{mesh.gateway_url}/grpc.health.v1.Health/Check")
    else:
        done = _buf_curl(f"https://{mesh.services[name]}/grpc.health.v1.Health/Check", mesh=mesh)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"status": "SERVING"}


def _proto_services(channel: grpc.Channel) -> list[str]:
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    request = reflection_pb2.ServerReflectionRequest(list_services="")
    (response,) = list(stub.ServerReflectionInfo(iter([request]), timeout=5))
    names = [service.name for service in response.list_services_response.service]
    return [name for name in names if name.startswith("keel.")]


@pytest.mark.parametrize("name", SERVICES)
def test_every_service_is_serving_overall_and_per_proto_service(mesh: Endpoints, name: str) -> None:
    with workload_channel(mesh, name, "operator") as channel:
        services = _proto_services(channel)
        assert services, f"{name} lists no keel.* service over reflection"
        assert all(service.startswith(f"keel.{name}.v1.") for service in services), services
        health = health_pb2_grpc.HealthStub(channel)
        for service in ["", *services]:
            answer = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
            assert answer.status == health_pb2.HealthCheckResponse.SERVING, (name, service)
