"""Who the call is for: the principal header, believed only from peers allowed to assert it.

Over mutual TLS the calling workload is known from its certificate (``keel_runtime.tls``):

- the gateway (``spiffe://keel/gateway``) forwards the end user's principal, which Envoy's
  jwt_authn took from a token it verified; it may not claim ``kind: service``;
- a Keel service (identity, ledger, items, billing) forwards the user it acts for, or is a
  service principal itself: ``kind: service`` is believed only with the subject its own
  certificate names (billing's certificate => service principal ``billing``), and a call
  without a header is that service principal;
- any other peer (the operator's tools, an unknown workload) reaches health, reflection and
  public methods only: a principal header from it is refused.

Without TLS (tests that need no identity) nobody has a workload identity: user principals
are taken as sent, ``kind: service`` is refused.

This is an interim: the header is believed because the gateway verified the token. Services
verifying the user's token themselves (against identity's JWKS) will replace it.
"""

from __future__ import annotations

from keel_runtime.context import Principal
from keel_runtime.errors import Unauthenticated
from keel_runtime.tls import GATEWAY_WORKLOAD, OPERATOR_WORKLOAD, SERVICE_WORKLOADS

# Infrastructure services every probe and operator tool must reach without credentials.
INFRASTRUCTURE_PREFIXES = (
    "/grpc.health.v1.Health/",
    "/grpc.reflection.v1alpha.ServerReflection/",
    "/grpc.reflection.v1.ServerReflection/",
)

SERVICE_KIND = "service"
OPERATOR_KIND = "operator"
UNTRUSTED_PEER = "PRINCIPAL_FROM_UNTRUSTED_PEER"
"""A principal header from a peer that may not assert one."""
SERVICE_UNVERIFIED = "SERVICE_PRINCIPAL_UNVERIFIED"
"""``kind: service`` not backed by the caller's own workload certificate."""


def normalize_method(name: str) -> str:
    """``pkg.Svc/Method`` or ``/pkg.Svc/Method`` -> ``/pkg.Svc/Method``."""
    return name if name.startswith("/") else f"/{name}"


def is_infrastructure(method: str) -> bool:
    return method.startswith(INFRASTRUCTURE_PREFIXES)


def refusal(raw_principal: str | None) -> Unauthenticated:
    """Why a call with no usable principal is refused.

    Defence in depth: the gateway authenticates, yet no service trusts an anonymous call.
    The principal itself is parsed with the request context; this only words the refusal.
    """
    if raw_principal is not None:
        return Unauthenticated("principal metadata is malformed", reason="PRINCIPAL_INVALID")
    return Unauthenticated("a principal is required", reason="PRINCIPAL_REQUIRED")


def authorize(
    claimed: Principal | None, has_header: bool, peer: str | None, *, mtls: bool
) -> Principal | Unauthenticated | None:
    """The principal a call acts as, given what the header claims and who the peer is.

    ``claimed`` is the parsed header (None when absent or malformed), ``peer`` the workload
    of the verified client certificate (None without one). Returns the refusal instead of
    raising, so the chain raises it where errors are mapped and counted.
    """
    if not mtls:
        if claimed is not None and claimed.kind == SERVICE_KIND:
            return Unauthenticated(
                "a service principal needs a workload certificate; this server runs without TLS",
                reason=SERVICE_UNVERIFIED,
            )
        return claimed
    if peer in SERVICE_WORKLOADS:
        if not has_header:
            return Principal(subject=peer, kind=SERVICE_KIND)
        if claimed is not None and claimed.kind == SERVICE_KIND and claimed.subject != peer:
            return Unauthenticated(
                f"workload {peer!r} may act as service principal {peer!r} only",
                reason=SERVICE_UNVERIFIED,
            )
        return claimed
    if not has_header:
        # The operator's certificate is the platform operator, of no organization; any
        # other peer without a header is anonymous.
        return Principal(subject=peer, kind=OPERATOR_KIND) if peer == OPERATOR_WORKLOAD else None
    if peer == GATEWAY_WORKLOAD:
        if claimed is not None and claimed.kind == SERVICE_KIND:
            return Unauthenticated(
                "the gateway forwards end users; service principals come from certificates",
                reason=SERVICE_UNVERIFIED,
            )
        return claimed
    who = f"workload {peer!r}" if peer else "a peer without a Keel workload identity"
    return Unauthenticated(
        f"{who} may not assert a principal; only the gateway and Keel services may",
        reason=UNTRUSTED_PEER,
    )
