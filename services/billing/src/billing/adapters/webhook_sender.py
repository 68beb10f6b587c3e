"""Outbound HTTP adapter for webhook deliveries (the WebhookSender port), on httpx."""

from __future__ import annotations

from collections.abc import Mapping

import httpx

from billing.adapters.webhook_targets import WebhookTargets
from billing.domain.errors import DeliveryFailed, WebhookUrlRefused


class HttpWebhookSender:
    """POSTs with a short timeout and no redirects: a receiver answers 2xx or it is retried.

    Each delivery connects to the address `targets` resolved and checked (never to the
    name again), keeping the original host in the Host header and the TLS server name.
    """

    def __init__(
        self,
        targets: WebhookTargets,
        client: httpx.AsyncClient | None = None,
        *,
        timeout_s: float = 5.0,
    ) -> None:
        self._targets = targets
        self._client = client or httpx.AsyncClient(timeout=timeout_s, follow_redirects=False)

    async def send(self, url: str, headers: Mapping[str, str], body: bytes) -> None:
        try:
            target = await self._targets.pin(url)
        except WebhookUrlRefused as exc:
            raise DeliveryFailed(f"{exc.reason}: {exc}") from exc
        extensions = {"sni_hostname": target.server_name} if target.server_name else {}
        try:
            response = await self._client.post(
                target.url,
                headers={**headers, "Host": target.host_header},
                content=body,
                extensions=extensions,
            )
        except httpx.HTTPError as exc:
            raise DeliveryFailed(f"{type(exc).__name__}: {exc}") from exc
        if not response.is_success:
            raise DeliveryFailed(f"HTTP {response.status_code}")

    async def close(self) -> None:
        await self._client.aclose()
