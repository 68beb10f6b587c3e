"""A channel for component tests of a server that runs mutual TLS, as the mesh does.

Over mutual TLS the server believes a principal header only from the workloads allowed to
assert it (``keel_runtime.interceptors.principal``). A test wants to call as an end user one
moment and as billing the next; this channel sends each call with the certificate that
principal needs: the service a ``kind: service`` principal names, else the gateway's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import grpc

from keel_devstack.certs import MeshCertificates
from keel_runtime.context import PRINCIPAL_HEADER, Principal
from keel_runtime.tls import channel_credentials

Metadata = Sequence[tuple[str, Any]] | None


class RoutedChannel:
    """Enough of ``grpc.aio.Channel`` for generated stubs; ``close`` closes every channel."""

    def __init__(self, target: str, certs: MeshCertificates) -> None:
        self.target = target
        self._certs = certs
        self._channels: dict[str, Any] = {}

    def workload_for(self, metadata: Metadata) -> str:
        for key, value in metadata or ():
            if key != PRINCIPAL_HEADER:
                continue
            try:
                principal = Principal.from_header(value)
            except ValueError:
                break
            if principal.kind == "service" and principal.subject in self._certs.workloads:
                return principal.subject
        return "gateway"

    def channel(self, workload: str) -> Any:
        """A plain secure channel presenting ``workload``'s certificate."""
        if workload not in self._channels:
            credentials = channel_credentials(self._certs[workload].tls)
            self._channels[workload] = grpc.aio.secure_channel(self.target, credentials)
        return self._channels[workload]

    def _route(self, kind: str, method: str, *args: Any, **kwargs: Any) -> Any:
        def call(request: Any, *, metadata: Metadata = None, **call_kwargs: Any) -> Any:
            channel = self.channel(self.workload_for(metadata))
            multicallable = getattr(channel, kind)(method, *args, **kwargs)
            return multicallable(request, metadata=metadata, **call_kwargs)

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
