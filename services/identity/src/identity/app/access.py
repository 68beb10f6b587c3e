"""Who may manage an organization's people and keys, written in the runtime's caller model."""

from __future__ import annotations

from collections.abc import Iterable

from identity.domain.errors import NotAuthenticated
from identity.domain.roles import USER_ADMINS, Role
from keel_runtime.caller import Caller


def calling_user(caller: Caller) -> str | None:
    """The caller's user id; None for an API key or a workload."""
    return caller.subject if caller.is_user else None


def require_user(caller: Caller) -> str:
    """The caller's user id, for methods about the calling user themself."""
    found = calling_user(caller)
    if found is None:
        raise NotAuthenticated("this method needs a user principal")
    return found


def check_grant(caller: Caller, granted: Iterable[Role]) -> None:
    """Granting roles (to a user or an API key): admins grant all but OWNER, which only an
    OWNER grants."""
    caller.require_role(*USER_ADMINS)
    if Role.OWNER in frozenset(granted):
        caller.require_role(Role.OWNER)
