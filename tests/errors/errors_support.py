"""Shared pieces of the error tests: the in-process identity server they call."""

from __future__ import annotations

from dataclasses import dataclass

import grpc
from keel.identity.v1 import organization_service_pb2_grpc

from identity.crypto.passwords import Argon2Params
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
