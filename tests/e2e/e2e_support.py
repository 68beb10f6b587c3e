"""Shared pieces of the end-to-end tests: tenants, errors, polling, principals, outboxes."""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import grpc
import httpx
import psycopg
from keel.billing.v1 import subscription_service_pb2, subscription_service_pb2_grpc
from keel.events.v1 import envelope_pb2
from keel.identity.v1 import user_service_pb2, user_service_pb2_grpc
from keel.items.v1 import item_service_pb2, item_service_pb2_grpc
from keel.ledger.v1 import account_service_pb2, account_service_pb2_grpc

from keel_devstack.stack import Endpoints
from keel_runtime.context import ACTING_ORG_HEADER

T = TypeVar("T")
Json = dict[str, Any]

PASSWORD = "correct horse battery staple"
ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo"
REQUEST_INFO = "type.googleapis.com/google.rpc.RequestInfo"
BAD_REQUEST = "type.googleapis.com/google.rpc.BadRequest"
# Asynchronous effects (consumers, workers) must show within this bound.
WAIT_SECONDS = 15.0
POLL_SECONDS = 0.1


@dataclass(frozen=True)
class Tenant:
    """One organization made by sign-up, with its owner logged in."""

    org_id: str
    user_id: str
    email: str
    password: str
    access_token: str
    refresh_token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.access_token}"}

    def claims(self) -> Json:
        return jwt_part(self.access_token, 1)

    def token_metadata(self) -> list[tuple[str, str]]:
        """What the gateway forwards to services: the owner's access token, which each
        service verifies again."""
        return [("authorization", f"Bearer {self.access_token}")]


def new_email(label: str = "owner") -> str:
    return f"{label}-{uuid.uuid4().hex[:12]}@e2e.keel.test"


def sign_up_body(email: str, *, display_name: str = "E2E Org") -> Json:
    return {
        "requestId": str(uuid.uuid4()),
        "displayName": display_name,
        "ownerEmail": email,
        "ownerDisplayName": "E2E Owner",
        "ownerPassword": PASSWORD,
    }


def sign_up(client: httpx.Client) -> Tenant:
    """Sign up a fresh organization through the gateway and log its owner in."""
    email = new_email()
    response = client.post("/v1/organizations", json=sign_up_body(email))
    assert response.status_code == 200, response.text
    created = response.json()
    login = client.post("/v1/sessions", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    grant = login.json()["grant"]
    return Tenant(
        org_id=created["organization"]["organizationId"],
        user_id=created["owner"]["userId"],
        email=email,
        password=PASSWORD,
        access_token=grant["accessToken"],
        refresh_token=grant["refreshToken"],
    )


def wait_for(probe: Callable[[], T | None], what: str, within: float = WAIT_SECONDS) -> T:
    """Poll `probe` every 100 ms until it returns something other than None; fail after timeout."""
    deadline = time.monotonic() + within
    while True:
        value = probe()
        if value is not None:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what}: not seen within {within:.0f}s")
        time.sleep(POLL_SECONDS)


async def wait_for_async(
    probe: Callable[[], Awaitable[T | None]], what: str, within: float = WAIT_SECONDS
) -> T:
    """`wait_for` for coroutines, so the event loop (NATS client) keeps running meanwhile."""
    deadline = time.monotonic() + within
    while True:
        value = await probe()
        if value is not None:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what}: not seen within {within:.0f}s")
        await asyncio.sleep(POLL_SECONDS)


def request_id() -> str:
    return f"e2e-{uuid.uuid4().hex}"


def assert_status_error(
    response: httpx.Response,
    *,
    http_status: int,
    code: int,
    reason: str | None = None,
    request_id: str | None = None,
) -> Json:
    """The response is a JSON google.rpc.Status with ErrorInfo and RequestInfo; returns the body."""
    assert response.status_code == http_status, (response.status_code, response.text)
    assert response.headers.get("content-type", "").startswith("application/json"), (
        response.headers.get("content-type"),
        response.text,
    )
    body: Json = response.json()
    assert body["code"] == code, body
    assert isinstance(body.get("message"), str) and body["message"], body
    details = {detail["@type"]: detail for detail in body.get("details", [])}
    assert ERROR_INFO in details, body
    assert details[ERROR_INFO].get("reason"), body
    assert details[ERROR_INFO].get("domain"), body
    if reason is not None:
        assert details[ERROR_INFO]["reason"] == reason, body
    assert REQUEST_INFO in details, body
    if request_id is not None:
        assert details[REQUEST_INFO].get("requestId") == request_id, body
    else:
        assert details[REQUEST_INFO].get("requestId"), body
    return body


def detail(body: Json, type_url: str) -> Json:
    found: list[Json] = [d for d in body.get("details", []) if d.get("@type") == type_url]
    assert found, f"no {type_url} in {body}"
    return found[0]


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_json(value: Json) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def jwt_part(token: str, index: int) -> Json:
    segment = token.split(".")[index]
    part: Json = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    return part


def access_log(log_path: Path, rid: str, method_part: str) -> list[Json]:
    """The service's JSON access-log records for one request id and method."""
    records = []
    for line in log_path.read_text(errors="replace").splitlines():
        if rid not in line:
            continue
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if record.get("request_id") == rid and method_part in str(record.get("method")):
            records.append(record)
    return records


def get_json(client: httpx.Client, path: str, tenant: Tenant, **params: Any) -> Json:
    """GET a resource as the tenant's owner; anything but 200 fails the test."""
    response = client.get(path, headers=tenant.auth, params=params or None)
    assert response.status_code == 200, (path, response.status_code, response.text)
    body: Json = response.json()
    return body


def post_json(client: httpx.Client, path: str, tenant: Tenant, body: Json | None = None) -> Json:
    """POST as the tenant's owner; anything but 200 fails the test."""
    response = client.post(path, json=body or {}, headers=tenant.auth)
    assert response.status_code == 200, (path, response.status_code, response.text)
    answer: Json = response.json()
    return answer


def wait_wallet(client: httpx.Client, tenant: Tenant) -> Json:
    """The organization's WALLET account, once ledger opened it from the sign-up event."""

    def probe() -> Json | None:
        accounts: list[Json] = get_json(client, "/v1/accounts", tenant)["accounts"]
        wallets = [a for a in accounts if a["kind"] == "ACCOUNT_KIND_WALLET"]
        return wallets[0] if wallets else None

    return wait_for(probe, "ledger opening the wallet")


def wait_subscription(client: httpx.Client, tenant: Tenant) -> Json:
    """The organization's default subscription, once billing started it from sign-up."""

    def probe() -> Json | None:
        found: list[Json] = get_json(client, "/v1/subscriptions", tenant)["subscriptions"]
        return found[0] if found else None

    return wait_for(probe, "billing starting the default subscription")


def workload_credentials(mesh: Endpoints, workload: str) -> grpc.ChannelCredentials:
    """Mutual TLS as ``workload`` (gateway, billing, operator...), with the mesh's files."""
    tls_dir = Path(mesh.tls["dir"])
    return grpc.ssl_channel_credentials(
        (tls_dir / "ca.pem").read_bytes(),
        (tls_dir / f"{workload}-key.pem").read_bytes(),
        (tls_dir / f"{workload}.pem").read_bytes(),
    )


def workload_channel(mesh: Endpoints, service: str, workload: str) -> grpc.Channel:
    """A channel to ``service`` presenting ``workload``'s certificate: every service requires
    one, and takes users' tokens only from the gateway and Keel services."""
    return grpc.secure_channel(mesh.services[service], workload_credentials(mesh, workload))


def gateway_channel(mesh: Endpoints, service: str) -> grpc.Channel:
    """As Envoy calls ``service``: end users' access tokens forwarded."""
    return workload_channel(mesh, service, "gateway")


BILLING = "billing"
"""Platform powers (funding accounts) until an operator credential exists: the tests act as
the billing workload, whose certificate makes it the service principal ``billing``."""


def service_channel(mesh: Endpoints, service: str) -> grpc.Channel:
    return workload_channel(mesh, service, BILLING)


def service_metadata(org_id: str = "") -> list[tuple[str, str]]:
    """Metadata of an internal caller acting as itself (no user's token) for ``org_id``: who
    it is, the callee learns from its certificate (``service_channel``)."""
    acting = [(ACTING_ORG_HEADER, org_id)] if org_id else []
    return [*acting, ("x-request-id", request_id())]


@dataclass(frozen=True)
class OutboxEvent:
    """One event in a service's outbox: the exact bytes and headers the relay sends, decoded."""

    payload: bytes
    headers: dict[str, str]
    envelope: envelope_pb2.Envelope


def outbox_events(database_url: str, subject: str, *, published: bool = True) -> list[OutboxEvent]:
    """One subject's outbox rows in a service's database, oldest first: those the relay
    published, or (`published=False`) every row, published yet or not."""
    query = (
        "SELECT payload, headers FROM outbox WHERE subject = %s"
        " AND (published_at IS NOT NULL OR NOT %s) ORDER BY created_at"
    )
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(query, (subject, published)).fetchall()
    return [
        OutboxEvent(
            payload=bytes(payload),
            headers={str(k): str(v) for k, v in headers.items()},
            envelope=envelope_pb2.Envelope.FromString(payload),
        )
        for payload, headers in rows
    ]


def count_rows(database_url: str, query: str, *args: Any) -> int:
    """`SELECT count(*) ...` against a service's database."""
    with psycopg.connect(database_url) as conn:
        row = conn.execute(query, args).fetchone()
    assert row is not None
    return int(row[0])


def protected_call(channel: grpc.Channel, service: str) -> Callable[..., Any]:
    """One principal-only read per service, as a call taking `metadata`."""
    if service == "identity":
        users = user_service_pb2_grpc.UserServiceStub(channel)
        return lambda **kw: users.GetCurrentUser(
            user_service_pb2.GetCurrentUserRequest(), timeout=5, **kw
        )
    if service == "ledger":
        accounts = account_service_pb2_grpc.AccountServiceStub(channel)
        return lambda **kw: accounts.ListAccounts(
            account_service_pb2.ListAccountsRequest(), timeout=5, **kw
        )
    if service == "items":
        items = item_service_pb2_grpc.ItemServiceStub(channel)
        return lambda **kw: items.ListItems(item_service_pb2.ListItemsRequest(), timeout=5, **kw)
    subscriptions = subscription_service_pb2_grpc.SubscriptionServiceStub(channel)
    return lambda **kw: subscriptions.ListSubscriptions(
        subscription_service_pb2.ListSubscriptionsRequest(), timeout=5, **kw
    )
