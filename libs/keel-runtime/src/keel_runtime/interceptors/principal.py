"""Who the call is for, from what the caller can prove: a certificate, an access token.

Over mutual TLS the calling workload is known from its certificate (``keel_runtime.tls``):

- the gateway (``spiffe://keel/gateway``) forwards the end user's access token, which this
  service verifies itself (``keel_runtime.tokens``); without one the call is anonymous;
- a Keel service (identity, ledger, items, billing) forwards the token of the user it acts
  for, or calls as itself: without a token it is the service principal its certificate
  names, acting for the organization in ``x-keel-org``;
- the operator's certificate (``spiffe://keel/operator``) is the platform operator, acting
  for the organization in ``x-keel-org`` if it names one;
- any other peer reaches health, reflection and public methods only; a token from it is
  refused, since it is no workload that receives users' tokens.

Without TLS (tests that need no workload identity) tokens are verified all the same and no
caller is a service or the operator.
"""

from __future__ import annotations

import logging

from keel_runtime.context import Principal
from keel_runtime.errors import RuntimeRpcError, Unauthenticated
from keel_runtime.tls import GATEWAY_WORKLOAD, OPERATOR_WORKLOAD, SERVICE_WORKLOADS
from keel_runtime.tokens import TOKEN_INVALID, TokenVerifier

logger = logging.getLogger("keel.auth")

# Infrastructure services every probe and operator tool must reach without credentials.
INFRASTRUCTURE_PREFIXES = (
    "/grpc.health.v1.Health/",
    "/grpc.reflection.v1alpha.ServerReflection/",
    "/grpc.reflection.v1.ServerReflection/",
)

SERVICE_KIND = "service"
OPERATOR_KIND = "operator"
UNTRUSTED_PEER = "TOKEN_FROM_UNTRUSTED_PEER"
"""An access token from a peer that is neither the gateway nor a Keel service."""
TOKEN_RECEIVERS = SERVICE_WORKLOADS | {GATEWAY_WORKLOAD}


def normalize_method(name: str) -> str:
    """``pkg.Svc/Method`` or ``/pkg.Svc/Method`` -> ``/pkg.Svc/Method``."""
    return name if name.startswith("/") else f"/{name}"


def is_infrastructure(method: str) -> bool:
    return method.startswith(INFRASTRUCTURE_PREFIXES)


def anonymous_refusal() -> Unauthenticated:
    """Defence in depth: the gateway authenticates, yet no service serves an anonymous call."""
    return Unauthenticated("an access token is required", reason="PRINCIPAL_REQUIRED")


async def identify(
    token: str | None,
    acting_org: str | None,
    peer: str | None,
    *,
    mtls: bool,
    verifier: TokenVerifier,
) -> Principal | RuntimeRpcError | None:
    """The principal a call acts as, from its bearer token and the peer's certificate.

    ``token`` is the bearer token (None without an ``authorization`` header, "" when the
    header is not a bearer token), ``peer`` the workload of the verified client certificate
    (None without one). Returns the refusal instead of raising, so the chain raises it where
    errors are mapped and counted; None is an anonymous call.
    """
    if token is None:
        if not mtls:
            return None
        if peer in SERVICE_WORKLOADS:
            return Principal(subject=peer, org_id=acting_org or "", kind=SERVICE_KIND)
        if peer == OPERATOR_WORKLOAD:
            return Principal(subject=peer, org_id=acting_org or "", kind=OPERATOR_KIND)
        return None
    if mtls and peer not in TOKEN_RECEIVERS:
        who = f"workload {peer!r}" if peer else "a peer without a Keel workload identity"
        return Unauthenticated(
            f"{who} may not present a user's token; only the gateway and Keel services may",
            reason=UNTRUSTED_PEER,
        )
    if not token:
        return Unauthenticated("authorization must be 'Bearer <token>'", reason=TOKEN_INVALID)
    try:
        return await verifier.principal(token)
    except RuntimeRpcError as refused:
        return refused
    except Exception:
        # A token that breaks the verifier is refused like any other that does not verify
        # (fail closed), and logged without the token for whoever fixes the verifier.
        logger.exception("access token verification failed unexpectedly")
        return Unauthenticated("the access token could not be verified", reason=TOKEN_INVALID)
