"""A server's profile under load (py-spy, sampling from outside): where its CPU goes.

Writes ``<name>.svg`` (flame graph), ``<name>.txt`` (collapsed stacks) and
``<name>-summary.txt``: the share of samples by the code that was running (the innermost
frame's package) and the heaviest functions, counted once per sample they appear in.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

RATE = 200
TOP = 25

CATEGORIES = (
    ("grpc", "grpc (C core, aio glue)"),
    ("google/protobuf", "protobuf"),
    ("protovalidate", "protovalidate"),
    ("celpy", "protovalidate"),
    ("sqlalchemy", "SQLAlchemy"),
    ("psycopg", "psycopg"),
    ("asyncio", "asyncio event loop"),
    ("logging", "logging"),
    ("json", "json"),
    ("opentelemetry", "tracing"),
    ("prometheus_client", "metrics"),
    ("keel_runtime", "keel_runtime (interceptors, db, events)"),
    ("ledger/", "ledger service code"),
)


def py_spy() -> str | None:
    found = Path(sys.executable).parent / "py-spy"
    return str(found) if found.exists() else shutil.which("py-spy")


def start(pid: int, seconds: float, out_dir: Path, name: str) -> list[subprocess.Popen[bytes]]:
    """Two samplers at once (flame graph and raw stacks); neither pauses the server."""
    binary = py_spy()
    if binary is None:
        return []
    out_dir.mkdir(parents=True, exist_ok=True)
    common = ["record", "--pid", str(pid), "--duration", str(max(1, round(seconds)))]
    common += ["--rate", str(RATE), "--nonblocking"]
    return [
        subprocess.Popen(
            [binary, *common, "--format", fmt, "-o", str(out_dir / f"{name}.{ext}")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for fmt, ext in (("flamegraph", "svg"), ("raw", "txt"))
    ]


def finish(samplers: list[subprocess.Popen[bytes]], out_dir: Path, name: str) -> Path | None:
    """Waits for the samplers; returns the summary (None if py-spy could not attach)."""
    for sampler in samplers:
        try:
            sampler.wait(timeout=120)
        except subprocess.TimeoutExpired:
            sampler.kill()
            sampler.wait()
    raw = out_dir / f"{name}.txt"
    if not samplers or not raw.exists():
        return None
    summary = out_dir / f"{name}-summary.txt"
    summary.write_text(summarize(raw.read_text()))
    return summary


def _category(frame: str) -> str:
    for needle, label in CATEGORIES:
        if needle in frame:
            return label
    return "other Python"


def summarize(collapsed: str) -> str:
    """Shares by innermost package, then functions by inclusive share (once per sample)."""
    leaf: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        total += count
        leaf[_category(frames[-1])] += count
        for frame in set(frames):
            inclusive[frame] += count
    if total == 0:
        return "no samples (the server was idle, or py-spy could not read it)\n"
    lines = [f"{total} samples of the server's busy threads at {RATE}/s", "", "innermost code:"]
    lines += [f"  {100 * n / total:5.1f}%  {label}" for label, n in leaf.most_common()]
    heaviest = [(f, n) for f, n in inclusive.most_common() if not _plumbing(f)][:TOP]
    lines += ["", f"heaviest {TOP} functions (share of samples they are on the stack of):"]
    lines += [f"  {100 * n / total:5.1f}%  {frame}" for frame, n in heaviest]
    ours = [(f, n) for f, n in inclusive.most_common() if _ours(f)][:TOP]
    lines += ["", "Keel code (ledger, keel_runtime) on the stack:"]
    lines += [f"  {100 * n / total:5.1f}%  {frame}" for frame, n in ours]
    return "\n".join(lines) + "\n"


def _plumbing(frame: str) -> bool:
    """Frames under every sample (the event loop, the entry point) say nothing."""
    return any(p in frame for p in ("asyncio/", "<frozen", "__main__.py", "(selectors.py"))


def _ours(frame: str) -> bool:
    return ("ledger/" in frame or "keel_runtime/" in frame) and "__main__.py" not in frame
