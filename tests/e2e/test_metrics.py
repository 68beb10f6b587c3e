"""Operators read each service's Prometheus metrics: RPCs, the outbox and consumers move."""

from __future__ import annotations

import re

import httpx
import pytest
from e2e_support import Tenant, wait_wallet

from keel_devstack.stack import Endpoints

pytestmark = pytest.mark.e2e


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one series in a Prometheus text exposition (0 when absent)."""
    for line in text.splitlines():
        if not line.startswith(name + "{"):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line.split("}", 1)[0]))
        if all(found.get(key) == value for key, value in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def scrape(mesh: Endpoints, service: str) -> str:
    response = httpx.get(f"http://{mesh.metrics[service]}/metrics", timeout=5)
    assert response.status_code == 200, response.text
    return response.text


def test_sign_up_shows_in_the_metrics_of_identity_and_ledger(
    mesh: Endpoints, gateway: httpx.Client, tenant: Tenant
) -> None:
    wait_wallet(gateway, tenant)  # the event went identity -> outbox -> JetStream -> ledger

    identity = scrape(mesh, "identity")
    create = "/keel.identity.v1.OrganizationService/CreateOrganization"
    assert sample(identity, "keel_rpc_requests_total", method=create, code="OK") >= 1
    assert sample(identity, "keel_outbox_published_total", service="identity") >= 1
    assert sample(identity, "keel_health_serving", service="identity") == 1

    ledger = scrape(mesh, "ledger")
    assert (
        sample(
            ledger,
            "keel_consumer_messages_total",
            consumer="ledger-open-wallet",
            outcome="handled",
        )
        >= 1
    )
