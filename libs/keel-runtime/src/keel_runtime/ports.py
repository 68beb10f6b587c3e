"""The port every service's application layer shares: one transaction.

A service's own unit of work extends it with its repositories (read-only properties, so an
adapter may narrow their types)::

    class UnitOfWork(TransactionPort[DomainEvent], Protocol):
        @property
        def items(self) -> ItemRepository: ...
"""

from __future__ import annotations

from types import TracebackType
from typing import Protocol, Self, TypeVar

E_contra = TypeVar("E_contra", contravariant=True)


class TransactionPort(Protocol[E_contra]):
    """One transaction: leaving the block without ``commit()`` rolls everything back, and
    the events ``record``ed leave through the outbox only if it commits."""

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def record(self, *events: E_contra) -> None: ...

    async def commit(self) -> None: ...
