"""Access-token checks per CPU-second, in process: what a service pays per call for its user.

The token and the keys are the real ones (a login's grant, identity's JWKS); the check is the
one every service runs (``keel_runtime.tokens.TokenVerifier``): signature, iss/aud, exp/iat,
lifetime, and the deny set. A service sees the same token on many calls, so two figures:
``checks`` (a token seen before: expiry and revocation only) and ``first_sight`` (a fresh
verifier each time: the Ed25519 signature and the claims, as for a new token).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping
from typing import Any

from keel_devstack.stack import JWT_AUDIENCE, JWT_ISSUER
from keel_runtime.settings import TokenSettings
from keel_runtime.tokens import TokenVerifier

SETTINGS = TokenSettings(issuer=JWT_ISSUER, audience=JWT_AUDIENCE)


class _NoRevocations:
    def refuses(self, *, subject: str, kind: str, session_id: str, issued_at: int) -> bool:
        return False


def checks_per_cpu_second(token: str, jwks: bytes, seconds: float, *, first_sight: bool) -> float:
    document: Mapping[str, Any] = json.loads(jwks)

    async def source() -> Mapping[str, Any]:
        return document

    def verifier() -> TokenVerifier:
        return TokenVerifier(source, SETTINGS, revocations=_NoRevocations())

    async def measure() -> float:
        shared = verifier()
        await shared.principal(token)  # a bad token fails here, not as a zero rate
        keys = shared._keys  # first sight pays for the signature, not for fetching keys
        count, cpu0, stop = 0, time.process_time(), time.monotonic() + seconds
        while time.monotonic() < stop:
            for _ in range(100):
                if first_sight:
                    fresh = verifier()
                    fresh._keys, fresh._fetched_at = keys, time.monotonic()
                    await fresh.principal(token)
                else:
                    await shared.principal(token)
            count += 100
        return count / max(1e-9, time.process_time() - cpu0)

    return asyncio.run(measure())
