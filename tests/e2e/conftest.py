"""End-to-end fixtures: the mesh (as `make run` starts it), a REST client and a fresh tenant."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from keel_devstack.stack import Endpoints

# The tests import their shared code (e2e_support) as a plain module.
HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from e2e_support import Tenant, sign_up  # noqa: E402


@pytest.fixture(scope="session")
def gateway_url(mesh: Endpoints) -> str:
    url: str | None = mesh.gateway_url
    assert url, "the mesh started without the gateway (gateway/render.py missing?)"
    return url


@pytest.fixture(scope="session")
def gateway(gateway_url: str) -> Iterator[httpx.Client]:
    """A REST client of the gateway; every test sends its own headers."""
    with httpx.Client(base_url=gateway_url, timeout=10.0) as client:
        yield client


@pytest.fixture
def tenant(gateway: httpx.Client) -> Tenant:
    """A fresh organization (unique owner email) whose owner is logged in."""
    return sign_up(gateway)
