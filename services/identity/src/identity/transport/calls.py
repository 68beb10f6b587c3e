"""What the servicers read from a call: the principal as an Actor."""

from __future__ import annotations

from typing import Any, TypeAlias

from identity.domain.model import Actor
from identity.transport import mapping
from keel_runtime.context import require_principal

# grpc ships no type information, so the servicer context is untyped here.
Context: TypeAlias = Any


def actor() -> Actor:
    return mapping.actor(require_principal())
