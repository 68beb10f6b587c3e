"""gRPC health checks: wait until a service reports SERVING."""

from __future__ import annotations

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from keel_devstack.certs import WorkloadFiles
from keel_devstack.process import ManagedProcess


def wait_serving(
    process: ManagedProcess, target: str, *, timeout: float = 60.0, tls: WorkloadFiles | None = None
) -> float:
    """Poll grpc.health.v1.Health/Check("") until SERVING; fail fast if the process dies.

    With ``tls`` (the operator's certificate) the probe speaks mutual TLS, as every service
    of the mesh requires; without it, plaintext.
    """
    if tls is None:
        channel = grpc.insecure_channel(target)
    else:
        cert, key, ca = tls.tls.read()
        credentials = grpc.ssl_channel_credentials(ca, key, cert)
        channel = grpc.secure_channel(target, credentials)
    with channel:
        stub = health_pb2_grpc.HealthStub(channel)

        def serving() -> bool:
            try:
                reply = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=1.0)
            except grpc.RpcError:
                return False
            return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)

        port = int(target.rpartition(":")[2])
        return process.wait_ready(serving, timeout=timeout, interval=0.1, ports=[port])
