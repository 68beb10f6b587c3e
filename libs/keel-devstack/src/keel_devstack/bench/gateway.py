"""REST through Envoy against direct gRPC, for one public read (identity GetJwks) on the mesh."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
import tempfile
from contextlib import AsyncExitStack
from pathlib import Path

import grpc
from keel.identity.v1 import auth_service_pb2, auth_service_pb2_grpc

from keel_devstack.bench import http1
from keel_devstack.bench.env import Env
from keel_devstack.bench.grpc_server import LOG_LEVEL_VARIABLE
from keel_devstack.bench.measure import (
    Outcome,
    Rates,
    Round,
    RowSpec,
    closed_loop,
    interleave,
    judge,
)
from keel_devstack.progress import Progress
from keel_devstack.stack import Stack

NAME = "gateway"
CONCURRENCY = 8
PATH = "/.well-known/jwks.json"

BASELINE = "identity GetJwks, direct gRPC"
SUBJECT = f"GET {PATH} through Envoy"

ROWS = (
    RowSpec(
        "gateway: REST via Envoy vs direct gRPC",
        BASELINE,
        SUBJECT,
        target=0.7,
        why="Envoy transcodes in C++ on its own core; §8: ~3,100-3,450 vs ~3,500/s",
    ),
)


def run(env: Env) -> Outcome:
    """Identity and the gateway only (what GetJwks needs), started like `make run`."""
    root = Path(tempfile.mkdtemp(prefix="keel-bench-mesh-"))
    stack = Stack(
        root,
        infra=env.infra,
        only={"identity"},
        preferred_ports=False,
        progress=Progress(sys.stderr, prefix="    [mesh] "),
        # Both sides hit the same service, so its log level weighs on both alike.
        env_overrides={"LOG_LEVEL": os.environ.get(LOG_LEVEL_VARIABLE, "INFO")},
    )
    try:
        endpoints = stack.start()
        if endpoints.gateway_url is None:
            raise RuntimeError("the mesh started without its gateway (gateway/render.py missing)")
        rest_url = endpoints.gateway_url + PATH
        # Direct calls present the gateway's certificate, as Envoy does: both sides pay for TLS.
        assert stack.certs is not None
        cert, key, ca = stack.certs["gateway"].tls.read()
        credentials = grpc.ssl_channel_credentials(ca, key, cert)
        rounds = asyncio.run(_rounds(env, endpoints.services["identity"], rest_url, credentials))
    finally:
        stack.stop()
        if not stack.failed:
            shutil.rmtree(root, ignore_errors=True)
        else:
            env.say(f"    mesh logs kept in {root / 'log'}")
    notes: dict[str, object] = {"concurrency": CONCURRENCY, "rest_url": rest_url}
    return Outcome([judge(NAME, spec, rounds) for spec in ROWS], notes)


async def _rounds(
    env: Env, target: str, rest_url: str, credentials: grpc.ChannelCredentials
) -> list[Round]:
    seconds = env.settings.seconds
    async with AsyncExitStack() as stack:
        channel = await stack.enter_async_context(grpc.aio.secure_channel(target, credentials))
        stub = auth_service_pb2_grpc.AuthServiceStub(channel)
        request = auth_service_pb2.GetJwksRequest()
        connections = [
            await stack.enter_async_context(http1.connect(rest_url)) for _ in range(CONCURRENCY)
        ]
        idle = asyncio.Queue[http1.Connection]()
        for conn in connections:
            idle.put_nowait(conn)

        async def direct() -> int:
            await stub.GetJwks(request)
            return 1

        async def via_envoy() -> int:
            conn = await idle.get()
            try:
                await conn.get()
            finally:
                idle.put_nowait(conn)
            return 1

        # Connect and warm up both paths outside the timing, and check they serve the same.
        direct_body = (await stub.GetJwks(request)).data
        rest_body = await connections[0].get()
        if json.loads(direct_body) != json.loads(rest_body) or b'"keys"' not in rest_body:
            raise RuntimeError(f"REST and gRPC disagree: {rest_body[:200]!r}")
        await asyncio.gather(*(via_envoy() for _ in range(CONCURRENCY)))

        async def baseline() -> Rates:
            return {BASELINE: await closed_loop(CONCURRENCY, seconds, direct)}

        async def subject() -> Rates:
            return {SUBJECT: await closed_loop(CONCURRENCY, seconds, via_envoy)}

        return await interleave(baseline, subject, env.settings, env.say)
