"""Revocation through the mesh: a logged-out session's access token stops working in the
services within seconds, not at its expiry."""

from __future__ import annotations

import functools

import httpx
import pytest
from e2e_support import Tenant, get_json, jwt_part, wait_for, wait_for_async
from nats.js.errors import KeyNotFoundError

from keel_devstack.stack import Endpoints
from keel_runtime.events import connect_nats_once
from keel_runtime.revocation import BUCKET, SESSION, bucket_key, decode_value

pytestmark = pytest.mark.e2e

# One read method per service that verifies the caller itself.
READS = ("/v1/users/me", "/v1/accounts", "/v1/items", "/v1/subscriptions")


def logout(gateway: httpx.Client, tenant: Tenant) -> None:
    response = gateway.post(
        "/v1/sessions:logout", json={"refreshToken": tenant.refresh_token}, headers=tenant.auth
    )
    assert response.status_code == 200, response.text


async def test_a_logout_reaches_the_revocation_bucket(
    gateway: httpx.Client, tenant: Tenant, mesh: Endpoints
) -> None:
    sid = jwt_part(tenant.access_token, 1)["sid"]
    logout(gateway, tenant)

    # The mesh's NATS takes mutual TLS clients only: the operator's certificate and user.
    nc, _ = await connect_nats_once(mesh.nats_operator_url, tls=mesh.operator_tls())
    try:
        kv = await nc.jetstream().key_value(BUCKET)

        async def entry() -> int | None:
            try:
                return decode_value((await kv.get(bucket_key(SESSION, sid))).value)
            except KeyNotFoundError:
                return None

        revoked_at = await wait_for_async(entry, "the session in the revocation bucket")
    finally:
        await nc.close()
    assert revoked_at >= jwt_part(tenant.access_token, 1)["iat"]


def test_a_logged_out_token_is_refused_by_every_service(
    gateway: httpx.Client, tenant: Tenant
) -> None:
    for path in READS:
        get_json(gateway, path, tenant)
    logout(gateway, tenant)

    def refused(path: str) -> bool | None:
        # The edge still takes the token (its signature holds); each service refuses it.
        response = gateway.get(path, headers=tenant.auth)
        if response.status_code != 401:
            return None
        reasons = [d.get("reason") for d in response.json().get("details", [])]
        assert "TOKEN_REVOKED" in reasons, response.text
        return True

    for path in READS:
        wait_for(functools.partial(refused, path), f"{path} refusing the logged-out token")
