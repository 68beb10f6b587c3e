"""What the servicers share: the type of a call's context."""

from __future__ import annotations

from typing import Any, TypeAlias

# grpc ships no type information, so the servicer context is untyped here.
Context: TypeAlias = Any
