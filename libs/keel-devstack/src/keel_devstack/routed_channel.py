"""A channel for component tests of a server that runs mutual TLS, as the mesh does.

A test wants to call as an end user one moment (an access token, through the gateway's
certificate) and as billing the next (billing's certificate, no token); this channel sends
each call with the certificate it asks for: ``as_workload("billing", org)`` in the call's
metadata, else the gateway's. The marker itself is not sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import grpc

from keel_devstack.certs import MeshCertificates
from keel_runtime.context import ACTING_ORG_HEADER
from keel_runtime.tls import channel_credentials

Metadata = Sequence[tuple[str, Any]] | None

WORKLOAD_MARKER = "x-test-workload"


def as_workload(workload: str, org_id: str = "") -> tuple[tuple[str, str], ...]:
    """Metadata of a call made by ``workload`` itself (its certificate), for ``org_id``."""
    marker = ((WORKLOAD_MARKER, workload),)
    return (*marker, (ACTING_ORG_HEADER, org_id)) if org_id else marker


class RoutedChannel:
    """Enough of ``grpc.aio.Channel`` for generated stubs; ``close`` closes every channel."""

    def __init__(self, target: str, certs: MeshCertificates) -> None:
        self.target = target
        self._certs = certs
        self._channels: dict[str, Any] = {}

    @staticmethod
    def route(metadata: Metadata) -> tuple[str, Metadata]:
        """The workload a call is made by, and the metadata to send (marker removed)."""
        if not metadata:
            return "gateway", metadata
        workload = next((v for k, v in metadata if k == WORKLOAD_MARKER), "gateway")
        return workload, [(k, v) for k, v in metadata if k != WORKLOAD_MARKER]

    def channel(self, workload: str) -> Any:
        """A plain secure channel presenting ``workload``'s certificate."""
        if workload not in self._channels:
            credentials = channel_credentials(self._certs[workload].tls)
            self._channels[workload] = grpc.aio.secure_channel(self.target, credentials)
        return self._channels[workload]

    def _route(self, kind: str, method: str, *args: Any, **kwargs: Any) -> Any:
        def call(request: Any, *, metadata: Metadata = None, **call_kwargs: Any) -> Any:
            workload, sent = self.route(metadata)
            multicallable = getattr(self.channel(workload), kind)(method, *args, **kwargs)
            return multicallable(request, metadata=sent, **call_kwargs)

        return call

    def unary_unary(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return self._route("unary_unary", method, *args, **kwargs)

    def unary_stream(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return self._route("unary_stream", method, *args, **kwargs)

    def stream_unary(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return self._route("stream_unary", method, *args, **kwargs)

    def stream_stream(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return self._route("stream_stream", method, *args, **kwargs)

    async def close(self) -> None:
        for channel in self._channels.values():
            await channel.close()
        self._channels.clear()
