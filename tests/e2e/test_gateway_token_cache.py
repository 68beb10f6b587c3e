"""The gateway verifies an access token's signature once: the next requests with the same
token find it in Envoy's cache (its expiry is still checked there), as each service finds
it in its own."""

from __future__ import annotations

import httpx
import pytest
from e2e_support import Tenant, get_json, wait_wallet

from keel_devstack.stack import Endpoints

pytestmark = pytest.mark.e2e

CACHE_HITS = "http.gateway.jwt_authn.jwt_cache_hit"


def _cache_hits(mesh: Endpoints) -> int:
    assert mesh.envoy_admin_url, "the mesh started without Envoy"
    stats = httpx.get(f"{mesh.envoy_admin_url}/stats", params={"filter": CACHE_HITS}).text
    found = [line.split(":")[1] for line in stats.splitlines() if line.startswith(CACHE_HITS)]
    return int(found[0]) if found else 0


def test_a_token_seen_before_is_not_verified_again(
    mesh: Endpoints, gateway: httpx.Client, tenant: Tenant
) -> None:
    wallet = wait_wallet(gateway, tenant)  # the token's first requests
    before = _cache_hits(mesh)
    get_json(gateway, f"/v1/accounts/{wallet['accountId']}", tenant)
    assert _cache_hits(mesh) > before
