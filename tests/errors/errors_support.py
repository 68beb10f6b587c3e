"""Shared pieces of the error tests: the in-process identity server they call."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from keel.identity.v1 import organization_service_pb2_grpc

from identity.adapters.crypto.passwords import Argon2Params
from keel_runtime.server import RunningServer

FAST_ARGON2 = Argon2Params(time_cost=1, memory_cost_kib=64, parallelism=1)


@dataclass
class Identity:
    """A running identity server, a channel to it and its database."""

    running: RunningServer
    channel: grpc.aio.Channel
    database_url: str

    @property
    def organizations(self) -> organization_service_pb2_grpc.OrganizationServiceStub:
        return organization_service_pb2_grpc.OrganizationServiceStub(self.channel)


def unpack_details(error: grpc.aio.AioRpcError) -> dict[str, Any]:
    """The google.rpc.Status details of a gRPC error, by type name."""
    status = rpc_status.from_call(error)
    assert status is not None, "no google.rpc.Status in trailing metadata"
    found: dict[str, Any] = {}
    for packed in status.details:
        for cls in (
            error_details_pb2.ErrorInfo,
            error_details_pb2.RetryInfo,
            error_details_pb2.RequestInfo,
            error_details_pb2.BadRequest,
        ):
            if packed.Is(cls.DESCRIPTOR):
                found[cls.DESCRIPTOR.name] = cls()
                packed.Unpack(found[cls.DESCRIPTOR.name])
    return found
