"""Handlers called as the server calls them: with the caller's principal bound.

In the server, the principal interceptor binds the verified principal before a handler
runs, and the unit of work acts for its organization (row-level security). Tests that call
handlers directly get the same through ``serving``: a call whose command carries a ``Caller``
(or that names one) runs with that caller's principal bound.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import fields
from typing import Any, TypeVar, cast

from billing.bootstrap import Handlers
from keel_runtime.caller import Caller
from keel_runtime.testing import calling_as


class _AsServed:
    """One handler object whose coroutine methods bind the principal of the Caller their
    command carries."""

    def __init__(self, inner: object) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._inner, name)
        if not inspect.iscoroutinefunction(attribute):
            return attribute
        return _bind_caller(attribute)


def _bind_caller(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    async def call(*args: Any, **kwargs: Any) -> Any:
        caller = next(
            (c for a in (*args, *kwargs.values()) if isinstance(c := _caller_of(a), Caller)),
            None,
        )
        if caller is None:
            return await method(*args, **kwargs)
        with calling_as(caller):
            return await method(*args, **kwargs)

    return call


def _caller_of(argument: object) -> object:
    """The argument itself if a Caller, else the caller a command carries (if any)."""
    return argument if isinstance(argument, Caller) else getattr(argument, "caller", None)


def serving(handlers: Handlers) -> Handlers:
    """``handlers`` whose calls bind the caller's principal first (see the module)."""
    wrapped = {f.name: _AsServed(getattr(handlers, f.name)) for f in fields(handlers)}
    return cast(Handlers, Handlers(**wrapped))  # type: ignore[arg-type]


T = TypeVar("T")


def unwrapped(handler: T) -> T:
    """The handler object itself, as the server hands it to its jobs and consumers: they
    bind no principal, and must name the organization they act for themselves."""
    inner = handler._inner if isinstance(handler, _AsServed) else handler
    return cast(T, inner)
