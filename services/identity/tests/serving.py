"""Handlers called as the server calls them: with the caller's principal bound.

In the server, the principal interceptor binds the verified principal before a handler
runs, and the unit of work acts for its organization (row-level security). Tests that call
handlers directly get the same through ``serving``: a command that carries a ``caller``
runs with that caller's principal bound. Commands without one (sign-up, login, refresh)
run unbound, as they do in the server.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable
from dataclasses import fields
from typing import Any, cast

from identity.app.handlers import Handlers
from keel_runtime.caller import Caller
from keel_runtime.testing import calling_as


class _AsServed:
    """One topic's handlers, whose calls bind the principal of the command's caller."""

    def __init__(self, inner: object) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._inner, name)
        if not inspect.iscoroutinefunction(attribute):
            return attribute
        return _bind_caller(attribute)


def _bind_caller(method: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    @functools.wraps(method)
    async def call(*args: Any, **kwargs: Any) -> Any:
        caller = next(
            (a.caller for a in args if isinstance(getattr(a, "caller", None), Caller)), None
        )
        if caller is None:
            return await method(*args, **kwargs)
        with calling_as(caller):
            return await method(*args, **kwargs)

    return call


def serving(handlers: Handlers) -> Handlers:
    """``handlers`` whose calls bind the caller's principal first (see the module)."""
    wrapped = {f.name: _AsServed(getattr(handlers, f.name)) for f in fields(handlers)}
    return cast(Handlers, Handlers(**wrapped))  # type: ignore[arg-type]
