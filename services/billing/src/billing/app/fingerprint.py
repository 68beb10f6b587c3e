"""Stable request fingerprints for request_id idempotency (same id, other payload -> refused)."""

from __future__ import annotations

import hashlib
import json


def fingerprint(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()
