"""``serve`` as a process: JSON logs, health, SIGTERM -> graceful stop -> closers -> exit 0."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from typing import Any

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from keel_runtime.server import ServiceSpec, start
from keel_runtime.settings import ServerSettings

SERVICE_MAIN = """
import asyncio, logging
from keel_runtime.logging import configure_logging
from keel_runtime.server import ServiceSpec, serve
from keel_runtime.settings import ServerSettings, load

async def close_engine() -> None:
    logging.getLogger("probe").info("engine disposed")

configure_logging("probe", "INFO")
spec = ServiceSpec(name="probe", servicers=[], closers=[close_engine])
asyncio.run(serve(spec, load(ServerSettings.from_env)))
"""


async def read_json_lines(stream: asyncio.StreamReader, until: str) -> list[dict[str, Any]]:
    lines: list[dict[str, Any]] = []
    while not lines or lines[-1]["msg"] != until:
        raw = await asyncio.wait_for(stream.readline(), timeout=10)
        assert raw, f"process ended before logging {until!r}: {lines}"
        lines.append(json.loads(raw))
    return lines


async def test_serve_stops_gracefully_on_sigterm() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        SERVICE_MAIN,
        env={
            **os.environ,
            "GRPC_BIND": "127.0.0.1:0",
            "GRPC_GRACE_SECONDS": "2",
            "METRICS_BIND": "127.0.0.1:0",
        },
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stderr is not None
    try:
        started = await read_json_lines(process.stderr, "serving")
        port = started[-1]["port"]
        assert started[-1]["service"] == "probe"
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            health = health_pb2_grpc.HealthStub(channel)
            response = await health.Check(health_pb2.HealthCheckRequest(), timeout=5)
            assert response.status == health_pb2.HealthCheckResponse.SERVING
        (metrics,) = [line for line in started if line["msg"] == "metrics endpoint serving"]
        async with httpx.AsyncClient() as client:
            scraped = await client.get(f"http://127.0.0.1:{metrics['port']}/metrics", timeout=5)
        assert 'keel_health_serving{service="probe"} 1.0' in scraped.text

        process.send_signal(signal.SIGTERM)
        stopping = await read_json_lines(process.stderr, "stopped")
        assert await asyncio.wait_for(process.wait(), timeout=10) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    messages = [line["msg"] for line in stopping]
    assert messages.index("stopping") < messages.index("engine disposed")


async def test_settings_error_names_the_variable_and_exits_nonzero() -> None:
    env = {k: v for k, v in os.environ.items() if k != "GRPC_BIND"}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", SERVICE_MAIN, env=env, stderr=asyncio.subprocess.PIPE
    )
    _, stderr = await asyncio.wait_for(process.communicate(), timeout=20)
    assert process.returncode != 0
    assert b"SettingsError: GRPC_BIND: required but not set" in stderr


async def test_bind_failure_raises_and_still_runs_closers() -> None:
    closed: list[str] = []

    async def close() -> None:
        closed.append("closed")

    first = await start(ServiceSpec(name="a", servicers=[]), ServerSettings("127.0.0.1:0"))
    try:
        with pytest.raises(OSError, match="cannot listen on"):
            await start(
                ServiceSpec(name="b", servicers=[], closers=[close]),
                ServerSettings(f"127.0.0.1:{first.port}"),
            )
    finally:
        await first.stop(0)
    assert closed == ["closed"]
