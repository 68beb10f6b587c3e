"""Identifier generation for accounts and transactions."""

from __future__ import annotations

import os
import time
import uuid


def new_id() -> str:
    """A time-ordered UUID (version 7), so new rows land at the right edge of the index."""
    millis = time.time_ns() // 1_000_000
    value = (millis & 0xFFFF_FFFF_FFFF) << 80 | int.from_bytes(os.urandom(10), "big")
    value = (value & ~(0xF << 76)) | (0x7 << 76)
    value = (value & ~(0x3 << 62)) | (0x2 << 62)
    return str(uuid.UUID(int=value))
