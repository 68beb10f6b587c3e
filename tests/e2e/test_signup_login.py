"""Sign-up and login through the gateway; the edge and the services both insist on a principal."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import grpc
import httpx
import jwt
import psycopg
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from e2e_support import (
    PASSWORD,
    Tenant,
    access_log,
    assert_status_error,
    b64url,
    b64url_json,
    gateway_channel,
    jwt_part,
    new_email,
    protected_call,
    request_id,
    sign_up,
    sign_up_body,
    wait_for,
)
from grpc_status import rpc_status
from keel.events.v1 import envelope_pb2
from keel.identity.v1 import events_pb2 as identity_events

from keel_devstack.datakeys import data_keys
from keel_devstack.stack import JWT_AUDIENCE, JWT_ISSUER, Endpoints
from keel_runtime.sealing import Keyring

pytestmark = pytest.mark.e2e

# Access tokens are short-lived: minutes, not hours.
MAX_ACCESS_TOKEN_SECONDS = 3600


def test_sign_up_creates_organization_owner_and_outbox_event_in_one_transaction(
    gateway: httpx.Client, mesh: Endpoints
) -> None:
    email = new_email()
    body = sign_up_body(email, display_name="Acme E2E")
    response = gateway.post("/v1/organizations", json=body)

    assert response.status_code == 200, response.text
    created = response.json()
    org, owner = created["organization"], created["owner"]
    assert org["displayName"] == "Acme E2E"
    assert uuid.UUID(org["organizationId"])
    assert owner["organizationId"] == org["organizationId"]
    assert owner["email"] == email
    assert owner["roles"] == ["ROLE_OWNER"]
    assert owner["state"] == "USER_STATE_ACTIVE"
    assert "password" not in response.text.lower()

    with psycopg.connect(mesh.databases["identity"]) as conn:
        (password_hash,) = conn.execute(
            "SELECT password_hash FROM users WHERE id = %s", (owner["userId"],)
        ).fetchone() or (None,)
        assert password_hash is not None and password_hash.startswith("$argon2id$")
        (org_xmin,) = conn.execute(
            "SELECT xmin::text FROM organizations WHERE id = %s", (org["organizationId"],)
        ).fetchone() or (None,)
        rows = conn.execute(
            "SELECT txid::text, payload FROM outbox WHERE subject = %s",
            ("identity.organization.created",),
        ).fetchall()

    events = []
    for txid, payload in rows:
        envelope = envelope_pb2.Envelope.FromString(payload)
        if envelope.org_id == org["organizationId"]:
            events.append((int(txid), envelope))
    assert len(events) == 1, f"expected one organization.created event, got {len(events)}"
    txid, envelope = events[0]
    assert envelope.type == "identity.organization.created"
    assert envelope.id and envelope.occurred_at.seconds > 0
    payload = identity_events.OrganizationCreated()
    assert envelope.payload.Unpack(payload)
    assert payload.organization_id == org["organizationId"]
    assert payload.owner_user_id == owner["userId"]
    # Same transaction: the outbox row's xid8 is the organization row's xmin (mod 2^32).
    assert org_xmin is not None and txid % 2**32 == int(org_xmin)


def test_login_returns_short_lived_eddsa_jwt_verifiable_with_jwks(
    gateway: httpx.Client, tenant: Tenant
) -> None:
    response = gateway.post("/v1/sessions", json={"email": tenant.email, "password": PASSWORD})

    assert response.status_code == 200, response.text
    grant = response.json()["grant"]
    assert grant["tokenType"] == "Bearer"
    assert grant["refreshToken"] and grant["refreshToken"] != grant["accessToken"]
    assert grant["userId"] == tenant.user_id and grant["organizationId"] == tenant.org_id

    token = grant["accessToken"]
    header = jwt_part(token, 0)
    assert header["alg"] == "EdDSA" and header.get("kid")
    jwks = gateway.get("/.well-known/jwks.json")
    assert jwks.status_code == 200, jwks.text
    keys = {key["kid"]: key for key in jwks.json()["keys"]}
    assert header["kid"] in keys, "the token's key is not published in the JWKS"
    claims = jwt.decode(
        token,
        jwt.PyJWK(keys[header["kid"]]).key,
        algorithms=["EdDSA"],
        audience=JWT_AUDIENCE,
        issuer=JWT_ISSUER,
        options={"require": ["iss", "aud", "sub", "exp", "jti"]},
    )
    assert claims["sub"] == tenant.user_id
    assert claims["org"] == tenant.org_id
    assert "OWNER" in claims["roles"] or "ROLE_OWNER" in claims["roles"]
    assert 0 < claims["exp"] - time.time() <= MAX_ACCESS_TOKEN_SECONDS
    # Every token has its own id.
    assert claims["jti"] != tenant.claims()["jti"]


def test_token_is_read_from_the_authorization_header_only(
    gateway: httpx.Client, tenant: Tenant
) -> None:
    ok = gateway.get("/v1/users/me", headers=tenant.auth)
    assert ok.status_code == 200, ok.text
    assert ok.json()["user"]["userId"] == tenant.user_id

    in_query = gateway.get("/v1/users/me", params={"access_token": tenant.access_token})
    assert_status_error(in_query, http_status=401, code=16)
    in_cookie = gateway.get(
        "/v1/users/me", headers={"cookie": f"access_token={tenant.access_token}"}
    )
    assert_status_error(in_cookie, http_status=401, code=16)


def _forged_tokens(tenant: Tenant) -> dict[str, str]:
    claims = tenant.claims()
    header = jwt_part(tenant.access_token, 0)
    other_key = Ed25519PrivateKey.generate()
    head, _, signature = tenant.access_token.split(".")
    escalated = dict(claims, roles=["OWNER", "ADMIN"], org=str(uuid.uuid4()))
    return {
        "garbage": "not-a-jwt",
        "signed by another key": jwt.encode(
            claims, other_key, algorithm="EdDSA", headers={"kid": header["kid"]}
        ),
        "alg none": f"{b64url_json({'alg': 'none', 'typ': 'JWT'})}.{b64url_json(claims)}.",
        "claims changed after signing": f"{head}.{b64url_json(escalated)}.{signature}",
        "signature stripped": f"{head}.{tenant.access_token.split('.')[1]}.{b64url(b'x')}",
    }


def test_invalid_or_forged_tokens_end_at_the_edge_with_401_json(
    gateway: httpx.Client, tenant: Tenant
) -> None:
    for name, token in _forged_tokens(tenant).items():
        rid = request_id()
        response = gateway.get(
            "/v1/users/me", headers={"authorization": f"Bearer {token}", "x-request-id": rid}
        )
        assert response.status_code == 401, (name, response.text)
        assert_status_error(response, http_status=401, code=16, request_id=rid)


def test_a_client_cannot_name_the_organization_it_acts_for(
    gateway: httpx.Client, tenant: Tenant, mesh: Endpoints
) -> None:
    # `x-keel-org` is how a platform workload names the organization it acts for; from a
    # client it is dropped at the edge, and services would ignore it for a user anyway.
    victim = sign_up(gateway)
    acting = {"x-keel-org": victim.org_id}

    alone = gateway.get(f"/v1/organizations/{victim.org_id}", headers=acting)
    assert_status_error(alone, http_status=401, code=16)

    # On a public route nothing replaces it: the service must receive no principal at all.
    rid = request_id()
    public = gateway.post(
        "/v1/sessions",
        json={"email": tenant.email, "password": "not the password"},
        headers={**acting, "x-request-id": rid},
    )
    assert_status_error(public, http_status=401, code=16, request_id=rid)
    (seen,) = wait_for(
        lambda: access_log(Path(mesh.logs["identity"]), rid, "/Login") or None,
        "identity's access log line for the login",
        within=5,
    )
    assert seen.get("principal_sub") in (None, ""), f"a client-sent org made a principal: {seen}"

    # With a valid token of another tenant, the token's organization stands.
    me = gateway.get("/v1/users/me", headers={**tenant.auth, **acting})
    assert me.status_code == 200, me.text
    assert me.json()["user"]["userId"] == tenant.user_id
    other_org = gateway.get(f"/v1/organizations/{victim.org_id}", headers={**tenant.auth, **acting})
    assert other_org.status_code in (403, 404), other_org.text
    code = {403: 7, 404: 5}[other_org.status_code]
    assert_status_error(other_org, http_status=other_org.status_code, code=code)


@pytest.mark.parametrize("service", ["identity", "ledger", "items", "billing"])
def test_services_refuse_grpc_calls_without_a_principal(
    mesh: Endpoints, tenant: Tenant, service: str
) -> None:
    rid = request_id()
    with gateway_channel(mesh, service) as channel:
        call = protected_call(channel, service)

        with pytest.raises(grpc.RpcError) as refused:
            call(metadata=[("x-request-id", rid)])
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED, refused.value
        status = rpc_status.from_call(refused.value)
        assert status is not None, "no google.rpc.Status in the trailers"
        assert any(d.type_url.endswith("google.rpc.ErrorInfo") for d in status.details)

        # The same call with the principal the gateway would forward succeeds.
        answer = call(metadata=[*tenant.token_metadata(), ("x-request-id", rid)])
    if service == "identity":
        assert answer.user.user_id == tenant.user_id


def _identity_signing_key(mesh: Endpoints, kid: str) -> Ed25519PrivateKey:
    """Identity's own key, read from its database, to mint tokens the edge must still refuse."""
    with psycopg.connect(mesh.databases["identity"]) as conn:
        row = conn.execute(
            "SELECT private_key_pem FROM signing_keys WHERE kid = %s", (kid,)
        ).fetchone()
    assert row is not None, f"signing key {kid} not in identity's database"
    # Sealed at rest: only the data key the stack generated opens it.
    assert "PRIVATE KEY" not in row[0]
    ring = Keyring.parse(data_keys(Path(mesh.secrets) / "data-keys"))
    pem = ring.open(row[0], "identity.signing_keys.private_key_pem")
    if "ENCRYPTED" in pem:
        pytest.skip("identity's signing keys are encrypted at rest here")
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    assert isinstance(key, Ed25519PrivateKey)
    return key


def test_edge_pins_issuer_and_audience_and_expiry(
    gateway: httpx.Client, tenant: Tenant, mesh: Endpoints
) -> None:
    kid = jwt_part(tenant.access_token, 0)["kid"]
    key = _identity_signing_key(mesh, kid)
    now = int(time.time())
    claims = dict(tenant.claims(), iat=now, exp=now + 300, jti=str(uuid.uuid4()))

    def mint(**changes: Any) -> str:
        return jwt.encode(dict(claims, **changes), key, algorithm="EdDSA", headers={"kid": kid})

    # Control: a token minted this way is accepted, so each refusal below is the pinning.
    accepted = gateway.get("/v1/users/me", headers={"authorization": f"Bearer {mint()}"})
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["user"]["userId"] == tenant.user_id

    for name, token in {
        "other issuer": mint(iss="https://evil.example"),
        "expired": mint(iat=now - 7200, exp=now - 3600),
    }.items():
        response = gateway.get("/v1/users/me", headers={"authorization": f"Bearer {token}"})
        assert response.status_code == 401, (name, response.text)
        assert_status_error(response, http_status=401, code=16, reason="UNAUTHENTICATED")
    # jwt_authn's own answer to an audience mismatch is 403; the gateway maps it to 401.
    response = gateway.get(
        "/v1/users/me", headers={"authorization": f"Bearer {mint(aud='someone-else')}"}
    )
    assert_status_error(response, http_status=401, code=16, reason="UNAUTHENTICATED")


def test_refresh_token_gives_a_new_grant(gateway: httpx.Client, tenant: Tenant) -> None:
    response = gateway.post("/v1/sessions:refresh", json={"refreshToken": tenant.refresh_token})

    assert response.status_code == 200, response.text
    grant = response.json()["grant"]
    assert grant["userId"] == tenant.user_id
    assert grant["refreshToken"] and grant["refreshToken"] != tenant.refresh_token
    assert jwt_part(grant["accessToken"], 1)["jti"] != tenant.claims()["jti"]
    me = gateway.get("/v1/users/me", headers={"authorization": f"Bearer {grant['accessToken']}"})
    assert me.status_code == 200, me.text


def test_a_throttled_login_says_when_to_retry(gateway: httpx.Client, tenant: Tenant) -> None:
    wrong = {"email": tenant.email, "password": "not the password", "organizationId": tenant.org_id}
    answers = [gateway.post("/v1/sessions", json=wrong) for _ in range(6)]
    assert [a.status_code for a in answers[:5]] == [401] * 5, [a.text for a in answers]
    throttled = answers[5]
    assert_status_error(throttled, http_status=429, code=8)
    # HTTP clients read the wait from the header (RFC 9110), gRPC clients from RetryInfo.
    assert 1 <= int(throttled.headers.get("retry-after", 0)) <= 900, throttled.text
