"""Operators through the gateway: its own health covers every service, and each service's
reflection, health and RPCs are reachable with `buf curl --reflect` under /ops/<service>/."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from e2e_support import Tenant

from keel_devstack.stack import Endpoints

pytestmark = pytest.mark.e2e

BUF = Path(sys.executable).parent / "buf"
SERVICES = ["identity", "ledger", "items", "billing"]


def _buf_curl(url: str, *extra: str) -> subprocess.CompletedProcess[str]:
    argv = [str(BUF), "curl", "--protocol", "grpc", "--http2-prior-knowledge", "--reflect"]
    return subprocess.run(
        [*argv, *extra, url], capture_output=True, text=True, timeout=30, check=False
    )


def test_the_gateways_health_covers_every_service(gateway: httpx.Client) -> None:
    response = gateway.get("/healthz")
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "SERVING"}


@pytest.mark.parametrize("name", SERVICES)
def test_reflection_of_every_service_through_the_gateway(mesh: Endpoints, name: str) -> None:
    done = _buf_curl(f"{mesh.gateway_url}/ops/{name}/", "--list-services")
    assert done.returncode == 0, done.stderr
    listed = [line for line in done.stdout.split() if line.startswith("keel.")]
    assert listed and all(s.startswith(f"keel.{name}.v1.") for s in listed), done.stdout


@pytest.mark.parametrize("name", SERVICES)
def test_health_of_every_service_through_the_gateway(mesh: Endpoints, name: str) -> None:
    done = _buf_curl(f"{mesh.gateway_url}/ops/{name}/grpc.health.v1.Health/Check")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"status": "SERVING"}


def test_a_service_rpc_through_its_prefix_needs_and_takes_a_token(
    mesh: Endpoints, tenant: Tenant
) -> None:
    url = f"{mesh.gateway_url}/ops/ledger/keel.ledger.v1.AccountService/ListAccounts"
    refused = _buf_curl(url, "-d", "{}")
    assert refused.returncode != 0 and "unauthenticated" in refused.stdout + refused.stderr
    done = _buf_curl(url, "-d", "{}", "-H", f"authorization: Bearer {tenant.access_token}")
    assert done.returncode == 0, done.stderr
    assert "accounts" in json.loads(done.stdout), done.stdout
