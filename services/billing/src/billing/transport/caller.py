"""The runtime's request principal as the application layer's Caller."""

from __future__ import annotations

from billing.app.caller import Caller
from keel_runtime.context import require_principal


def current_caller() -> Caller:
    principal = require_principal()
    return Caller(
        subject=principal.subject,
        org_id=principal.org_id,
        roles=principal.roles,
        scopes=principal.scopes,
        kind=principal.kind,
    )
