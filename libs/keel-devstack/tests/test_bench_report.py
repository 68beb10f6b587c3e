"""The benchmark harness's arithmetic and records (no figure is asserted: no timing here)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from keel_devstack.bench import chart, proc, profile
from keel_devstack.bench.latency import percentile
from keel_devstack.bench.measure import Outcome, Settings, absolute, verdict
from keel_devstack.bench.report import append_history, table, write_json


def test_verdicts_read_the_target_in_the_right_direction() -> None:
    assert verdict(1.2, 1.0) == "PASS"
    assert verdict(0.9, 1.0) == "MISS"
    assert verdict(30.0, 50.0, lower_is_better=True) == "PASS"
    assert verdict(70.0, 50.0, lower_is_better=True) == "MISS"


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
