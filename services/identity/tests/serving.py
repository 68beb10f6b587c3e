"""Handlers called as the server calls them: with the actor's principal bound.

In the server, the principal interceptor binds the verified principal before a handler
runs, and the unit of work acts for its organization (row-level security). Tests that call
handlers directly get the same through ``serving``: a command that carries an ``actor``
runs with that actor's principal bound. Commands without one (sign-up, login, refresh)
run unbound, as they do in the server.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import fields
from typing import Any, cast

from identity.app.handlers import Handlers
from identity.domain.model import Actor
from keel_runtime import context
from keel_runtime.context import Principal


@contextmanager
def as_principal(actor: Actor) -> Iterator[None]:
    """The actor's principal bound, as the principal interceptor binds it."""
    principal = Principal(
        subject=actor.subject,
        org_id=actor.organization_id,
        roles=frozenset(str(r) for r in actor.roles),
        scopes=actor.scopes,
        kind=actor.kind,
    )
    with context.bound(principal=principal):
        yield


class _AsServed:
    """One handler whose calls bind the principal of the command's actor."""

    def __init__(self, inner: Callable[..., Awaitable[Any]]) -> None:
        self._inner = inner

    async def __call__(self, *args: Any, **kwargs: Any) -> Any:
        actor = next((a.actor for a in args if isinstance(getattr(a, "actor", None), Actor)), None)
        if actor is None:
            return await self._inner(*args, **kwargs)
        with as_principal(actor):
            return await self._inner(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def serving(handlers: Handlers) -> Handlers:
    """``handlers`` whose calls bind the actor's principal first (see the module)."""
    wrapped = {f.name: _AsServed(getattr(handlers, f.name)) for f in fields(handlers)}
    return cast(Handlers, Handlers(**wrapped))  # type: ignore[arg-type]
