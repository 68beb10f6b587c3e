"""gRPC unary calls/s through the runtime's interceptor chain against a bare grpc.aio server."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import grpc
from grpc_health.v1.health_pb2 import HealthCheckRequest, HealthCheckResponse

from keel_devstack.bench.env import Env
from keel_devstack.bench.grpc_server import METHOD
from keel_devstack.bench.measure import (
    Measure,
    Outcome,
    Rates,
    Round,
    RowSpec,
    closed_loop,
    interleave,
    judge,
)

NAME = "grpc"
CONCURRENCY = 16
WARMUP_SECONDS = 0.3

BASELINE = "bare grpc.aio server"
SUBJECT = "keel_runtime.server chain"
TRACED = "keel_runtime.server chain, tracing on"

ROWS = (
    RowSpec(
        "grpc: unary through the interceptor chain (mutual TLS, token verified)",
        BASELINE,
        SUBJECT,
        target=0.6,
        why="one chain (request context, access log, errors, principal, validation)"
        " costs a no-op call at most ~1.7x a bare server",
    ),
)
TRACING_ROW = RowSpec(
    "grpc: the chain with tracing on vs off",
    SUBJECT,
    TRACED,
    target=0.8,
    why="a server span per call, exported to a file off the request path, costs a no-op"
    " call at most a quarter more",
)


def run(env: Env) -> Outcome:
    chain, traced = asyncio.run(_rounds(env))
    notes: dict[str, object] = {
        "concurrency": CONCURRENCY,
        "method": METHOD,
        "servers": "one child process each; client in this process",
    }
    rows = [judge(NAME, spec, chain) for spec in ROWS] + [judge(NAME, TRACING_ROW, traced)]
    return Outcome(rows, notes)


Server = tuple[str, str, Path | None]
"""A bench server's address, an access token it accepts, and its TLS files (None: plaintext)."""


@asynccontextmanager
async def server_process(kind: str) -> AsyncIterator[Server]:
    """A server in its own process (the client would otherwise share its one core): its
    address, and an access token it accepts."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "keel_devstack.bench.grpc_server",
        kind,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), timeout=30)
        if not line.startswith(b"PORT "):
            raise RuntimeError(f"{kind} bench server did not start (exit {proc.returncode})")
        _, port, token, tls = line.decode().split()
        yield f"127.0.0.1:{int(port)}", token, (None if tls == "-" else Path(tls))
    finally:
        proc.stdin.close()  # its signal to stop
        try:
            await asyncio.wait_for(proc.wait(), timeout=10)
        except TimeoutError:
            proc.kill()
            await proc.wait()


def metadata(token: str) -> tuple[tuple[str, str], ...]:
    """What a call from the gateway carries (an end user's token); the bare server ignores it."""
    return (("authorization", f"Bearer {token}"), ("x-request-id", "bench"))


def _channel(target: str, tls: Path | None) -> grpc.aio.Channel:
    if tls is None:
        return grpc.aio.insecure_channel(target)
    credentials = grpc.ssl_channel_credentials(
        (tls / "ca.pem").read_bytes(),
        (tls / "gateway-key.pem").read_bytes(),
        (tls / "gateway.pem").read_bytes(),
    )
    return grpc.aio.secure_channel(target, credentials)


async def calls_per_second(server: Server, seconds: float) -> float:
    target, token, tls = server
    async with _channel(target, tls) as channel:
        call = channel.unary_unary(
            METHOD,
            request_serializer=HealthCheckRequest.SerializeToString,
            response_deserializer=HealthCheckResponse.FromString,
        )
        request, md = HealthCheckRequest(), metadata(token)
        await call(request, metadata=md)  # connect outside the timing

        async def once() -> int:
            await call(request, metadata=md)
            return 1

        return await closed_loop(CONCURRENCY, seconds, once)


async def _rounds(env: Env) -> tuple[list[Round], list[Round]]:
    """Bare server vs the chain, then the chain vs the chain with tracing on."""
    async with AsyncExitStack() as stack:
        bare = await stack.enter_async_context(server_process("bare"))
        chained = await stack.enter_async_context(server_process("runtime"))
        traced = await stack.enter_async_context(server_process("traced"))
        for target in (bare, chained, traced):  # first calls pay for lazy setup on both sides
            await calls_per_second(target, WARMUP_SECONDS)

        def side(key: str, target: Server) -> Measure:
            async def measure() -> Rates:
                return {key: await calls_per_second(target, env.settings.seconds)}

            return measure

        chain = await interleave(
            side(BASELINE, bare), side(SUBJECT, chained), env.settings, env.say
        )
        tracing = await interleave(
            side(SUBJECT, chained), side(TRACED, traced), env.settings, env.say
        )
        return chain, tracing
