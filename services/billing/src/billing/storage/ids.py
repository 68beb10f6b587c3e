"""Id checks for values that come from callers."""

from __future__ import annotations

import uuid


def valid_uuid(value: str) -> bool:
    """Malformed ids are simply "not found", never a driver error."""
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
