"""history.png: every run's ratios and latency percentiles, so trends show between runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

RUNS_SHOWN = 20


def _runs(history: Path) -> list[dict[str, Any]]:
    runs = []
    for line in history.read_text().splitlines():
        try:
            runs.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a line cut short by an interrupted run
    return runs[-RUNS_SHOWN:]


def draw(history: Path, png: Path) -> Path | None:
    """The chart, or None when matplotlib is not installed (it is in requirements.lock)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    runs = _runs(history)
    labels = [
        str(run.get("started_at", "?"))[5:16].replace("T", " ")
        + (" quick" if run.get("settings", {}).get("quick") else "")
        for run in runs
    ]
    positions = list(range(len(runs)))
    ratios: dict[str, list[float | None]] = {}
    latencies: dict[str, list[float | None]] = {}
    for index, run in enumerate(runs):
        for row in run.get("rows", []):
            if row.get("unit", "x") == "x":
                series = ratios
            elif row.get("unit") == " ms":
                series = latencies
            else:
                continue
            line = series.setdefault(row["name"], [None] * len(runs))
            line[index] = row["ratio"]
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(12, 9), sharex=True)
    for name, values in sorted(ratios.items()):
        top.plot(positions, values, marker="o", label=name)
    top.axhline(1.0, color="grey", linewidth=0.8)
    top.set_ylabel("ratio to in-run baseline")
    top.set_title("make bench: ratios (higher is better) and event latency per run")
    if ratios:
        top.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    for name, values in sorted(latencies.items()):
        bottom.plot(positions, values, marker="s", label=name)
    bottom.axhline(50.0, color="red", linewidth=0.8, linestyle="--", label="target p99")
    bottom.set_ylabel("milliseconds")
    bottom.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    # Positions, not the labels themselves: two runs in the same minute stay two points.
    bottom.set_xticks(positions, labels, rotation=45, ha="right")
    figure.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(png, dpi=90)
    plt.close(figure)
    return png
