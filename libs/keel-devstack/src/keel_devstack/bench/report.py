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

HEADERS = ("benchmark", "baseline/s", "subject/s", "ratio", "target", "steal %", "")


def _cells(row: Row) -> tuple[str, ...]:
    stolen = "n/a" if row.steal_pct is None else f"{row.steal_pct:.1f}"
    if row.reruns:
        stolen += f" ({row.reruns} rerun)"
    return (
        row.name,
        f"{row.baseline_per_s:,.0f}",
        f"{row.subject_per_s:,.0f}",
        f"{row.ratio:.2f}x",
        f">={row.target:g}x",
        stolen,
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
    """What each ratio compares, so a WARN can be read without the source."""
    return "\n".join(f"  {r.name}: {r.subject} vs {r.baseline}; {r.why}" for r in rows)


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
