"""The closing table and var/bench/latest.json."""

from __future__ import annotations

import json
import os
import platform
import sys
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

from keel_devstack.bench.measure import Outcome, Row, Settings

HEADERS = (
    "row",
    "baseline/s",
    "subject/s",
    "value",
    "target",
    "srv cpu-s/1k",
    "cli cpu-s/1k",
    "stack cpu-s/1k",
    "steal %",
    "load",
    "",
)


def _figure(value: float, unit: str) -> str:
    if unit == "x":
        return f"{value:.2f}x"
    return f"{value:,.0f}{unit}" if abs(value) >= 100 else f"{value:,.1f}{unit}"


def _cpu(row: Row, who: str) -> str:
    """Subject side, then the baseline's in parentheses when there is one."""
    subject = row.cpu.get(f"{who} subject")
    baseline = row.cpu.get(f"{who} baseline")
    if subject is None:
        return ""
    return f"{subject:.2f}" + (f" ({baseline:.2f})" if baseline is not None else "")


def _cells(row: Row) -> tuple[str, ...]:
    stolen = "" if row.steal_pct is None else f"{row.steal_pct:.1f}"
    if row.reruns:
        stolen += f" ({row.reruns} rerun)"
    ratio = row.unit == "x"
    return (
        row.name,
        f"{row.baseline_per_s:,.0f}" if ratio else "",
        f"{row.subject_per_s:,.0f}" if ratio else "",
        _figure(row.ratio, row.unit),
        ("<=" if row.lower_is_better else ">=") + _figure(row.target, row.unit),
        _cpu(row, "server"),
        _cpu(row, "client"),
        _cpu(row, "stack"),
        stolen,
        "" if row.load_1m is None else f"{row.load_1m:.1f}",
        row.verdict,
    )


def table(rows: Sequence[Row], errors: Mapping[str, str]) -> str:
    lines = [HEADERS, *(_cells(row) for row in rows)]
    widths = [max(len(line[i]) for line in lines) for i in range(len(HEADERS))]
    out = []
    for n, line in enumerate(lines):
        cells = [
            cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i])
            for i, cell in enumerate(line)
        ]
        out.append("  ".join(cells).rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    out += [f"{name}: ERROR {message}" for name, message in errors.items()]
    return "\n".join(out)


def legend(rows: Sequence[Row]) -> str:
    """What each row compares, so a MISS can be read without the source."""
    lines = [
        "  cpu-s/1k: CPU-seconds per 1,000 operations from /proc, subject (baseline);"
        " srv = the servers the row names, cli = the load-generating client processes,"
        " stack = every process of the stack and the clients (two cores carry at most"
        " 2,000 / stack operations a second)",
        "  load: 1-minute load average during the rounds (other work on the machine)",
    ]
    for r in rows:
        compared = f"{r.subject} vs {r.baseline}; " if r.baseline else ""
        lines.append(f"  {r.name}: {compared}{r.why}")
    return "\n".join(lines)


def write_json(
    path: Path,
    *,
    settings: Settings,
    outcomes: Mapping[str, Outcome],
    errors: Mapping[str, str],
    started: datetime,
    steal_pct: float | None,
) -> None:
    document = {
        "started_at": started.isoformat(),
        "finished_at": datetime.now(UTC).isoformat(),
        "host": {
            "cpus": os.cpu_count(),
            "python": sys.version.split()[0],
            "platform": platform.platform(),
        },
        "settings": asdict(settings),
        "steal_pct": steal_pct,
        "rows": [asdict(row) for outcome in outcomes.values() for row in outcome.rows],
        "notes": {name: outcome.notes for name, outcome in outcomes.items()},
        "errors": dict(errors),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(document, indent=2, default=str) + "\n")
    tmp.replace(path)


def append_history(history: Path, latest: Path) -> None:
    """One line per run (the whole latest.json), so runs can be compared and charted."""
    document = json.loads(latest.read_text())
    with history.open("a") as out:
        out.write(json.dumps(document, separators=(",", ":"), default=str) + "\n")
