"""The benchmark harness's arithmetic, records and clients (no figure is asserted: no timing)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from grpc_health.v1.health_pb2 import HealthCheckRequest, HealthCheckResponse

from keel_devstack.bench import chart, fixtures, grpc_server, proc, profile, workloads
from keel_devstack.bench.latency import percentile
from keel_devstack.bench.load import Result, rates
from keel_devstack.bench.measure import Outcome, Round, RowSpec, Settings, absolute, judge, verdict
from keel_devstack.bench.mesh import Backlog
from keel_devstack.bench.report import append_history, table, write_json
from keel_devstack.certs import MeshCertificates
from keel_runtime.server import ServiceSpec, start
from keel_runtime.settings import ServerSettings
from keel_runtime.testing import TokenIssuer


def test_verdicts_read_the_target_in_the_right_direction() -> None:
    assert verdict(1.2, 1.0) == "PASS"
    assert verdict(0.9, 1.0) == "MISS"
    assert verdict(30.0, 50.0, lower_is_better=True) == "PASS"
    assert verdict(70.0, 50.0, lower_is_better=True) == "MISS"


def test_a_row_keeps_each_servers_cpu_beside_their_sum() -> None:
    spec = RowSpec("read", "echo", "read", target=0.7, why="")
    base = Result(ops=1000, seconds=1.0, server_cpu_s={"echo": 0.2}, client_cpu_s=0.1)
    subj = Result(
        ops=1000, seconds=1.0, server_cpu_s={"ledger": 1.5, "postgres": 0.5}, client_cpu_s=0.1
    )
    row = judge("mesh", spec, [Round(1, rates("echo", base), rates("read", subj), None, False)])
    assert row.cpu["server subject"] == pytest.approx(2.0)
    assert row.cpu["server ledger subject"] == pytest.approx(1.5)
    assert row.cpu["server postgres subject"] == pytest.approx(0.5)
    assert row.cpu["server echo baseline"] == pytest.approx(0.2)


def test_a_row_keeps_what_the_whole_stack_spent_per_operation() -> None:
    spec = RowSpec("postings", "raw", "grpc", target=1.0, why="")
    base = Result(ops=1000, seconds=1.0, server_cpu_s={"postgres": 0.5}, client_cpu_s=0.2)
    subj = Result(
        ops=500, seconds=1.0, server_cpu_s={"ledger": 1.0}, client_cpu_s=0.1, stack_cpu_s=2.0
    )
    row = judge("mesh", spec, [Round(1, rates("raw", base), rates("grpc", subj), None, False)])
    assert row.cpu["stack subject"] == pytest.approx(4.0)
    assert "stack baseline" not in row.cpu  # measured without the stack metered: no figure
    assert "4.00" in table([row], {})


def test_a_relay_backlog_says_what_it_left_and_how_fast_it_drained() -> None:
    drained = Backlog(events=6_000, seconds=2.0, left=0)
    assert drained.published_per_s == pytest.approx(3_000)
    assert "6,000 events not yet published" in drained.why()
    gave_up = Backlog(events=6_000, seconds=4.0, left=2_000)
    assert gave_up.published_per_s == pytest.approx(1_000)  # only what it published counts
    assert "2,000 still not" in gave_up.why()
    assert Backlog(0, 0.0, 0).why() == "; the relay kept up"


def test_percentile_is_nearest_rank() -> None:
    values = [float(n) for n in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile([7.0], 99) == 7.0
    assert percentile([], 99) == 0.0


def test_cpu_of_a_child_is_counted_in_its_parent_tree_once_reaped() -> None:
    child = subprocess.Popen([sys.executable, "-c", "sum(range(3_000_000))"])
    child.wait()
    # The parent (this test) reaped it: its time now shows in our children's share.
    own = proc.cpu_seconds(os.getpid()) or 0.0
    with_children = proc.cpu_seconds(os.getpid(), with_reaped_children=True) or 0.0
    assert with_children > own
    assert proc.cpu_seconds(2**22 + 12345) is None  # no such process
    assert (proc.rss_bytes(os.getpid()) or 0) > 0


def test_each_run_is_kept_and_charted(tmp_path: Path) -> None:
    row = absolute(
        "mesh", "P4 event latency p99", 12.5, target=50.0, unit=" ms", why="w", lower_is_better=True
    )
    latest, history = tmp_path / "latest.json", tmp_path / "history.jsonl"
    for _ in range(2):
        write_json(
            latest,
            settings=Settings(),
            outcomes={"mesh": Outcome([row])},
            errors={},
            started=datetime.now(UTC),
            steal_pct=0.0,
        )
        append_history(history, latest)
    runs = [json.loads(line) for line in history.read_text().splitlines()]
    assert [r["rows"][0]["verdict"] for r in runs] == ["PASS", "PASS"]
    assert "<=50.0 ms" in table([row], {})
    png = chart.draw(history, tmp_path / "history.png")
    assert png is not None and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_profile_summary_shares_add_up_by_innermost_code() -> None:
    collapsed = (
        "run (asyncio/events.py:80);execute (psycopg/cursor_async.py:10) 30\n"
        "run (asyncio/events.py:80);intercept (keel_runtime/server.py:5);"
        "dumps (json/encoder.py:1) 10\n"
        "run (asyncio/events.py:80);handle (ledger/app/transactions.py:9) 60\n"
    )
    text = profile.summarize(collapsed)
    assert "100 samples" in text
    assert " 60.0%  ledger service code" in text
    assert " 30.0%  psycopg" in text
    assert "run (asyncio/events.py:80)" not in text  # under every sample: plumbing
    assert " 10.0%  intercept (keel_runtime/server.py:5)" in text


@pytest.fixture
async def mutual_tls_ping(
    mesh_certs: MeshCertificates, token_issuer: TokenIssuer
) -> AsyncIterator[str]:
    """The bench's one-method server through the runtime's chain, as ledger runs: mutual TLS."""
    spec = ServiceSpec(
        name="bench",
        servicers=[(grpc_server.add_handler, None)],
        jwks=token_issuer.jwks,
    )
    running = await start(spec, ServerSettings(bind="127.0.0.1:0", tls=mesh_certs["ledger"].tls))
    try:
        yield f"127.0.0.1:{running.port}"
    finally:
        await running.stop(0)


def _ping(channel: Any) -> Any:
    return channel.unary_unary(
        grpc_server.METHOD,
        request_serializer=HealthCheckRequest.SerializeToString,
        response_deserializer=HealthCheckResponse.FromString,
    )


async def test_the_bench_service_principal_is_one_the_mesh_believes(
    mutual_tls_ping: str, mesh_certs: MeshCertificates
) -> None:
    # P3 posts as a Keel service: its principal must be backed by that service's certificate.
    async with fixtures.mesh_channel(mutual_tls_ping, mesh_certs) as channel:
        reply = await _ping(channel)(HealthCheckRequest(), metadata=fixtures.service_metadata())
    assert reply.status == HealthCheckResponse.SERVING


@pytest.mark.parametrize("principal", ["user", "service"])
async def test_load_clients_call_over_mutual_tls_as_their_principal(
    mutual_tls_ping: str, mesh_certs: MeshCertificates, token_issuer: TokenIssuer, principal: str
) -> None:
    if principal == "user":
        metadata = list(token_issuer.metadata("00000000-0000-0000-0000-0000000000b1"))
    else:
        metadata = fixtures.service_metadata()
    args = {"target": mutual_tls_ping, "certs": mesh_certs, "metadata": metadata}
    async with AsyncExitStack() as stack:
        channel = await workloads.grpc_channel(stack, args)
        reply = await _ping(channel)(HealthCheckRequest(), metadata=workloads._metadata(args))
    assert reply.status == HealthCheckResponse.SERVING
