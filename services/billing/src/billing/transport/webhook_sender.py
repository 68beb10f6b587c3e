"""Outbound HTTP adapter for webhook deliveries (the WebhookSender port), on httpx."""

from __future__ import annotations

from collections.abc import Mapping

import httpx

from billing.domain.errors import DeliveryFailed


class HttpWebhookSender:
    """POSTs with a short timeout and no redirects: a receiver answers 2xx or it is retried."""

    def __init__(self, client: httpx.AsyncClient | None = None, *, timeout_s: float = 5.0) -> None:
        self._client = client or httpx.AsyncClient(timeout=timeout_s, follow_redirects=False)

    async def send(self, url: str, headers: Mapping[str, str], body: bytes) -> None:
        try:
            response = await self._client.post(url, headers=dict(headers), content=body)
        except httpx.HTTPError as exc:
            raise DeliveryFailed(f"{type(exc).__name__}: {exc}") from exc
        if not response.is_success:
            raise DeliveryFailed(f"HTTP {response.status_code}")

    async def close(self) -> None:
        await self._client.aclose()
