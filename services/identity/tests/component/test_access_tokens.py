"""Identity verifies the access token of every call itself, as every Keel service does.

Tried as an attacker would: a login token whose claims were edited, one signed with a key
of their own, tokens a trusted key signed outside the rules, and a real token presented by
a workload that never receives users' tokens.
"""

from __future__ import annotations

import base64
import json
import time
import uuid

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from keel.identity.v1 import (
    audit_service_pb2,
    audit_service_pb2_grpc,
    auth_service_pb2,
    auth_service_pb2_grpc,
    organization_service_pb2,
    organization_service_pb2_grpc,
    resources_pb2,
    user_service_pb2,
    user_service_pb2_grpc,
)

from keel_devstack.routed_channel import as_workload
from keel_runtime.interceptors.principal import UNTRUSTED_PEER
from keel_runtime.testing import TokenIssuer
from keel_runtime.tokens import TOKEN_EXPIRED, TOKEN_INVALID

from .conftest import bearer

PASSWORD = "correct horse battery"
MEMBER_REFUSED = "PERMISSION_DENIED/ROLE_REQUIRED"
"""A member reading the audit log: authenticated, then refused for their role."""


def reason(error: grpc.aio.AioRpcError) -> str:
    """The ErrorInfo reason of ``error``; "" when it carries none."""
    status = rpc_status.from_call(error)
    for detail in status.details if status is not None else ():
        info = error_details_pb2.ErrorInfo()
        if detail.Unpack(info):
            return str(info.reason)
    return ""


async def member_token(channel: grpc.aio.Channel) -> str:
    """A new organization's member, logged in: their access token."""
    owner_email = f"owner-{uuid.uuid4().hex}@example.com"
    await organization_service_pb2_grpc.OrganizationServiceStub(channel).CreateOrganization(
        organization_service_pb2.CreateOrganizationRequest(
            display_name="Engines", owner_email=owner_email, owner_password=PASSWORD
        )
    )
    auth = auth_service_pb2_grpc.AuthServiceStub(channel)
    owner = await auth.Login(auth_service_pb2.LoginRequest(email=owner_email, password=PASSWORD))
    member_email = f"member-{uuid.uuid4().hex}@example.com"
    await user_service_pb2_grpc.UserServiceStub(channel).CreateUser(
        user_service_pb2.CreateUserRequest(
            email=member_email, initial_password=PASSWORD, roles=[resources_pb2.ROLE_MEMBER]
        ),
        metadata=bearer(owner.grant.access_token),
    )
    member = await auth.Login(auth_service_pb2.LoginRequest(email=member_email, password=PASSWORD))
    return member.grant.access_token


def claims(token: str) -> dict[str, object]:
    payload = token.split(".")[1]
    decoded: dict[str, object] = json.loads(base64.urlsafe_b64decode(payload + "=" * 4))
    return decoded


def with_claims(token: str, **changed: object) -> str:
    """``token`` with its payload edited and its signature kept."""
    head, _, signature = token.split(".")
    payload = json.dumps({**claims(token), **changed}).encode()
    return f"{head}.{base64.urlsafe_b64encode(payload).decode().rstrip('=')}.{signature}"


async def read_audit_log(channel: grpc.aio.Channel, metadata: object) -> str:
    """The outcome of reading the audit log (not for members) with ``metadata``."""
    audit = audit_service_pb2_grpc.AuditServiceStub(channel)
    try:
        await audit.ListAuditEvents(audit_service_pb2.ListAuditEventsRequest(), metadata=metadata)
    except grpc.aio.AioRpcError as error:
        return f"{error.code().name}/{reason(error)}"
    return "OK"


async def test_a_member_cannot_edit_their_token_into_an_owners(channel: grpc.aio.Channel) -> None:
    token = await member_token(channel)
    assert await read_audit_log(channel, bearer(token)) == MEMBER_REFUSED

    promoted = with_claims(token, roles=["OWNER"])
    assert await read_audit_log(channel, bearer(promoted)) == f"UNAUTHENTICATED/{TOKEN_INVALID}"
    # The same claims signed with a key identity never published.
    resigned = TokenIssuer().sign({**claims(token), "roles": ["OWNER"]})
    assert await read_audit_log(channel, bearer(resigned)) == f"UNAUTHENTICATED/{TOKEN_INVALID}"


async def test_tokens_outside_the_rules_are_refused_whoever_signed_them(
    channel: grpc.aio.Channel, token_issuer: TokenIssuer
) -> None:
    org_id = str(uuid.uuid4())
    # The test's key is trusted here (see conftest): each case differs from this one by its flaw.
    assert await read_audit_log(channel, token_issuer.metadata(org_id)) == "OK"
    now = int(time.time())
    forged = {
        "wrong issuer": token_issuer.metadata(org_id, iss="keel-identity-test"),
        "wrong audience": token_issuer.metadata(org_id, aud="another-platform"),
        "no expiry": token_issuer.metadata(org_id, exp=None),
        "issued in the future": token_issuer.metadata(org_id, iat=now + 600, exp=now + 900),
        "living longer than allowed": token_issuer.metadata(org_id, ttl_seconds=2 * 3600),
        "a service in a token": token_issuer.metadata(org_id, kind="service"),
        "the operator in a token": token_issuer.metadata(org_id, kind="operator"),
        "not a bearer token": (("authorization", "Basic dXNlcjpwYXNz"),),
    }
    outcomes = {case: await read_audit_log(channel, metadata) for case, metadata in forged.items()}
    assert outcomes == dict.fromkeys(forged, f"UNAUTHENTICATED/{TOKEN_INVALID}")
    expired = token_issuer.metadata(org_id, iat=now - 900, exp=now - 120)
    assert await read_audit_log(channel, expired) == f"UNAUTHENTICATED/{TOKEN_EXPIRED}"


async def test_a_token_whose_times_are_not_numbers_is_refused_as_invalid(
    channel: grpc.aio.Channel, token_issuer: TokenIssuer
) -> None:
    not_a_number = token_issuer.metadata(str(uuid.uuid4()), exp=float("nan"))
    assert await read_audit_log(channel, not_a_number) == f"UNAUTHENTICATED/{TOKEN_INVALID}"


async def test_a_users_token_is_refused_from_a_workload_that_never_receives_one(
    channel: grpc.aio.Channel,
) -> None:
    token = await member_token(channel)
    from_gateway = bearer(token)
    # A service forwarding the user's token calls as that user, not as itself.
    from_a_service = (*as_workload("billing"), *bearer(token))
    from_operator = (*as_workload("operator"), *bearer(token))

    assert await read_audit_log(channel, from_gateway) == MEMBER_REFUSED
    assert await read_audit_log(channel, from_a_service) == MEMBER_REFUSED
    assert await read_audit_log(channel, from_operator) == f"UNAUTHENTICATED/{UNTRUSTED_PEER}"
