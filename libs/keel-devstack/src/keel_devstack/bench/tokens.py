"""Access-token verification per CPU-second, in process: what a service or edge pays per call.

The token and the public key are the real ones (a login's grant, identity's JWKS); the
verification is PyJWT's EdDSA decode with issuer, audience and expiry checked.
"""

from __future__ import annotations

import json
import time

import jwt

from keel_devstack.stack import JWT_AUDIENCE, JWT_ISSUER


def verifications_per_cpu_second(token: str, jwks: bytes, seconds: float) -> float:
    header = jwt.get_unverified_header(token)
    keys = {k["kid"]: k for k in json.loads(jwks)["keys"]}
    key = jwt.PyJWK(keys[header["kid"]]).key
    options = {"require": ["exp", "iss", "aud", "sub"]}

    def verify() -> None:
        jwt.decode(
            token,
            key,
            algorithms=["EdDSA"],
            audience=JWT_AUDIENCE,
            issuer=JWT_ISSUER,
            options=options,  # type: ignore[arg-type]
        )

    verify()  # a bad token fails here, not as a zero rate
    count, cpu0, stop = 0, time.process_time(), time.monotonic() + seconds
    while time.monotonic() < stop:
        for _ in range(100):
            verify()
        count += 100
    return count / max(1e-9, time.process_time() - cpu0)
