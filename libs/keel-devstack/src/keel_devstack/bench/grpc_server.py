"""A one-method gRPC server for the unary benchmark, bare or through the runtime's chain.

    python -m keel_devstack.bench.grpc_server bare|runtime|traced

``traced`` is ``runtime`` with tracing on: a span per call, exported to a temporary file as
``make run``'s local sink does.

Prints ``PORT <n> <token> <tls dir or ->`` once serving and stops when its stdin closes (the
benchmark ends).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1.health_pb2 import HealthCheckRequest, HealthCheckResponse

from keel_devstack import certs
from keel_runtime import tracing
from keel_runtime.logging import configure_logging
from keel_runtime.server import ServiceSpec, start
from keel_runtime.settings import ServerSettings
from keel_runtime.testing import TokenIssuer

SERVICE = "keel.bench.v1.Bench"
METHOD = f"/{SERVICE}/Ping"
LOG_LEVEL_VARIABLE = "KEEL_BENCH_LOG_LEVEL"
REPLY = HealthCheckResponse(status=HealthCheckResponse.SERVING)
KINDS = ("bare", "runtime", "traced")


async def ping(request: HealthCheckRequest, context: Any) -> HealthCheckResponse:
    return REPLY


def handler() -> grpc.GenericRpcHandler:
    """A real message type, so the validation interceptor does its usual work on it."""
    return grpc.method_handlers_generic_handler(
        SERVICE,
        {
            "Ping": grpc.unary_unary_rpc_method_handler(
                ping,
                request_deserializer=HealthCheckRequest.FromString,
                response_serializer=HealthCheckResponse.SerializeToString,
            )
        },
    )


def add_handler(servicer: object, server: Any) -> None:
    server.add_generic_rpc_handlers((handler(),))


async def serve(kind: str) -> None:
    # The client sends this token to both servers; the runtime verifies it as services do.
    issuer = TokenIssuer()
    token = issuer.token("bench", subject="bench", ttl_seconds=3600)
    tls_dir: Path | None = None
    if kind == "bare":
        server = grpc.aio.server()
        server.add_generic_rpc_handlers((handler(),))
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        stop: Any = server.stop
    else:
        # As a service runs: a JSON access-log line per call at INFO (stderr goes to /dev/null)
        # and Prometheus metrics on, as `make run` has them.
        configure_logging("bench", os.environ.get(LOG_LEVEL_VARIABLE, "INFO"))
        if kind == "traced":
            spans = Path(tempfile.mkdtemp(prefix="keel-bench-traces-"))
            tracing.configure("bench", tracing.TracingSettings(file=spans / "bench.jsonl"))
        spec = ServiceSpec(
            name="bench",
            servicers=[(add_handler, None)],
            jwks=issuer.jwks,
        )
        # Mutual TLS as the mesh runs it: the client presents the gateway's certificate.
        tls_dir = Path(tempfile.mkdtemp(prefix="keel-bench-tls-")) / "tls"
        workloads = certs.issue(tls_dir)
        settings = ServerSettings(
            bind="127.0.0.1:0", metrics_bind="127.0.0.1:0", tls=workloads["ledger"].tls
        )
        running = await start(spec, settings)
        port, stop = running.port, running.stop
    print(f"PORT {port} {token} {tls_dir if kind != 'bare' else '-'}", flush=True)
    await asyncio.to_thread(sys.stdin.read)
    await stop(0)
    if kind == "traced":
        tracing.shutdown()
        shutil.rmtree(spans, ignore_errors=True)
    if tls_dir is not None:
        shutil.rmtree(tls_dir.parent, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in KINDS:
        sys.exit(f"usage: python -m keel_devstack.bench.grpc_server {'|'.join(KINDS)}")
    asyncio.run(serve(sys.argv[1]))
