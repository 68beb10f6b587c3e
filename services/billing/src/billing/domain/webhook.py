"""Webhook endpoints and the signature their deliveries carry."""

from __future__ import annotations

import enum
import hashlib
import hmac
import ipaddress
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class WebhookEndpoint:
    webhook_endpoint_id: str
    org_id: str
    url: str
    event_types: tuple[str, ...]
    description: str
    create_time: datetime


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    """`Keel-Signature` value: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


# Delivery retries: 10 s, 20 s, 40 s ... capped at one hour, then given up after MAX_ATTEMPTS.
MAX_ATTEMPTS = 12
FIRST_RETRY_S = 10
MAX_RETRY_S = 3600


def retry_delay_s(attempts: int) -> int | None:
    """Seconds until the next try after `attempts` failed ones; None when it is time to give up."""
    if attempts >= MAX_ATTEMPTS:
        return None
    delay: int = min(MAX_RETRY_S, FIRST_RETRY_S * 2 ** max(0, attempts - 1))
    return delay


def wants(event_types: tuple[str, ...], event_type: str) -> bool:
    """Whether an endpoint subscribed to `event_types` (empty: all) receives `event_type`."""
    return not event_types or event_type in event_types


@dataclass(frozen=True, slots=True)
class Delivery:
    """One event to POST to one endpoint."""

    delivery_id: str
    endpoint_id: str
    url: str
    signing_secret: str
    event_id: str
    event_type: str
    body: bytes
    attempts: int


class DeliveryState(enum.Enum):
    PENDING = "pending"
    DELIVERED = "delivered"
    ABANDONED = "abandoned"


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    """A delivery as operators and endpoint owners see it (no body, no secret)."""

    delivery_id: str
    endpoint_id: str
    event_id: str
    event_type: str
    attempts: int
    last_error: str
    next_attempt_time: datetime
    delivered_time: datetime | None
    abandon_time: datetime | None
    create_time: datetime

    @property
    def state(self) -> DeliveryState:
        if self.delivered_time is not None:
            return DeliveryState.DELIVERED
        if self.abandon_time is not None:
            return DeliveryState.ABANDONED
        return DeliveryState.PENDING


def address_refusal(address: str) -> str:
    """Why billing must not connect to this IP address ("" when it may): the guard against
    webhooks aimed at billing's own network (SSRF)."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    for refused, why in (
        (ip.is_unspecified, "unspecified"),
        (ip.is_loopback, "loopback"),
        (ip.is_link_local, "link-local"),  # 169.254.169.254: cloud metadata
        (ip.is_multicast, "multicast"),
        (ip.is_private, "private"),  # RFC 1918, fc00::/7 ...
        (not ip.is_global, "not globally routable"),  # CGNAT, documentation, reserved ...
    ):
        if refused:
            return why
    return ""
