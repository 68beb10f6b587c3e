"""A stand-in service honouring the service process contract, for orchestration tests.

`python -m standin_service migrate` creates a table as the owner (MIGRATION_DATABASE_URL, as
the stack passes it; DATABASE_URL, the runtime role's, cannot); without arguments it
serves only gRPC health on GRPC_BIND (mutual TLS when TLS_* are set) until SIGTERM.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import grpc
import psycopg
from grpc_health.v1 import health, health_pb2, health_pb2_grpc


def migrate() -> None:
    url = os.environ.get("MIGRATION_DATABASE_URL") or os.environ["DATABASE_URL"]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS standin_migrated (id int)")


async def serve() -> None:
    server = grpc.aio.server()
    servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    if os.environ.get("TLS_CERT_FILE"):
        # Mutual TLS, as the runtime serves when the stack hands out certificates.
        def read(name: str) -> bytes:
            with open(os.environ[name], "rb") as file:
                return file.read()

        credentials = grpc.ssl_server_credentials(
            [(read("TLS_KEY_FILE"), read("TLS_CERT_FILE"))],
            root_certificates=read("TLS_CA_FILE"),
            require_client_auth=True,
        )
        server.add_secure_port(os.environ["GRPC_BIND"], credentials)
    else:
        server.add_insecure_port(os.environ["GRPC_BIND"])
    await server.start()
    await servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await server.stop(1)


if __name__ == "__main__":
    if sys.argv[1:] == ["migrate"]:
        marker = os.environ.get("STANDIN_MIGRATE_CRASH_ONCE")
        if marker and not os.path.exists(marker):
            open(marker, "w").close()
            sys.exit(3)
        migrate()
    else:
        # A stand-in for a service that dies once while starting (a port race, a crash).
        marker = os.environ.get("STANDIN_CRASH_ONCE")
        if marker and not os.path.exists(marker):
            open(marker, "w").close()
            sys.exit(3)
        asyncio.run(serve())
