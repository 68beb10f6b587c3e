"""Billing's creates and changes that must not double, on the runtime's one rule
(``keel_runtime.idempotency``): the first use of a request id is kept with its resource."""

from __future__ import annotations

from collections.abc import Mapping

from billing.app.ports import UnitOfWork
from billing.domain.errors import RequestIdReused
from keel_runtime.idempotency import fingerprint, replay


async def claim(
    uow: UnitOfWork,
    org_id: str,
    request_id: str,
    operation: str,
    payload: Mapping[str, object],
    resource_id: str,
) -> str | None:
    """Claim ``request_id`` for ``resource_id`` in this transaction.

    None when the id is new (the claim commits with the change); the first call's resource
    id for a repeat of the same ``operation`` and ``payload``; ``RequestIdReused`` else.
    """
    digest = fingerprint({"operation": operation, **payload})
    first = await uow.idempotency.claim(org_id, request_id, operation, digest, resource_id)
    if first is None:
        return None
    resource, stored = first
    return replay(resource, stored, digest, lambda _: reused(request_id))


def reused(request_id: str) -> RequestIdReused:
    return RequestIdReused(
        "request_id was used before with a different request", request_id=request_id
    )
