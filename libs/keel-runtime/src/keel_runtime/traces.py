"""`python -m keel_runtime.traces`: the local traces of `make run`, read back as trees.

    python -m keel_runtime.traces show <request id | trace id> [--wait SECONDS]
    python -m keel_runtime.traces list [--limit N]

Spans are read from the JSON-lines files the services write when ``KEEL_TRACES_FILE`` is
set (``keel_runtime.tracing.file_sink``): every ``*.jsonl`` and rotated ``*.jsonl.1`` of
``--dir`` (default ``$KEEL_TRACES_DIR``, else ``var/traces``). A request id finds every
trace a span of which carries it (``keel.request_id``): the RPC's own, and the events it
caused, which continue the same trace.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from keel_runtime.tracing.spans import REQUEST_ID

Span = dict[str, Any]

SETTLE_SECONDS = 3.0
"""With --wait: once found, how long the trace must stay unchanged to count as complete
(services write their spans every half second; a consumer may take a second or two to
fetch the events the request caused)."""

_KIND_LABELS = {
    "SERVER": "server",
    "CLIENT": "client",
    "PRODUCER": "publish",
    "CONSUMER": "consume",
}


def default_directory() -> Path:
    return Path(os.environ.get("KEEL_TRACES_DIR") or "var/traces")


def read_spans(directory: Path) -> list[Span]:
    """Every span in the directory's trace files; a line still being written is skipped."""
    found: list[Span] = []
    if not directory.is_dir():
        return found
    for path in sorted([*directory.glob("*.jsonl"), *directory.glob("*.jsonl.1")]):
        try:
            lines = path.read_bytes().splitlines()
        except OSError:
            continue  # rotated away meanwhile
        for line in lines:
            try:
                span = json.loads(line)
            except ValueError:
                continue
            if isinstance(span, dict) and "trace_id" in span and "span_id" in span:
                found.append(span)
    return found


def traces_of(spans: Iterable[Span], wanted: str) -> dict[str, list[Span]]:
    """The traces (by trace id) holding ``wanted`` as their trace id or a span's request id."""
    wanted = wanted.strip()
    by_trace: dict[str, list[Span]] = defaultdict(list)
    for span in spans:
        by_trace[span["trace_id"]].append(span)
    matching = {
        trace_id: members
        for trace_id, members in by_trace.items()
        if trace_id == wanted.lower()
        or any(span.get("attributes", {}).get(REQUEST_ID) == wanted for span in members)
    }
    return dict(sorted(matching.items(), key=lambda item: min(s["start_ns"] for s in item[1])))


def _label(span: Span) -> str:
    if "db.system.name" in span.get("attributes", {}):
        return "db"
    return _KIND_LABELS.get(span.get("kind", ""), "internal")


def _outcome(span: Span) -> str:
    attributes = span.get("attributes", {})
    notes = []
    if "keel.consumer.outcome" in attributes:
        notes.append(str(attributes["keel.consumer.outcome"]))
    code = attributes.get("rpc.grpc.status_code")
    if isinstance(code, int) and code != 0:
        notes.append(_GRPC_CODES.get(code, str(code)))
    if span.get("status") == "ERROR":
        notes.append("ERROR")
    return f"  [{', '.join(notes)}]" if notes else ""


_GRPC_CODES = {
    1: "CANCELLED",
    2: "UNKNOWN",
    3: "INVALID_ARGUMENT",
    4: "DEADLINE_EXCEEDED",
    5: "NOT_FOUND",
    6: "ALREADY_EXISTS",
    7: "PERMISSION_DENIED",
    8: "RESOURCE_EXHAUSTED",
    9: "FAILED_PRECONDITION",
    10: "ABORTED",
    11: "OUT_OF_RANGE",
    12: "UNIMPLEMENTED",
    13: "INTERNAL",
    14: "UNAVAILABLE",
    15: "DATA_LOSS",
    16: "UNAUTHENTICATED",
}


def render(trace: Sequence[Span]) -> str:
    """One trace as an indented tree: offset from its start, duration, service, kind, name.

    A span whose parent is not in the files (a caller outside the mesh, a span not
    exported) is shown as a root.
    """
    ids = {span["span_id"] for span in trace}
    children: dict[str | None, list[Span]] = defaultdict(list)
    for span in trace:
        parent = span.get("parent_id")
        children[parent if parent in ids else None].append(span)
    for members in children.values():
        members.sort(key=lambda s: (s["start_ns"], s["span_id"]))
    start = min(span["start_ns"] for span in trace)
    end = max(span["end_ns"] for span in trace)
    services = sorted({span.get("service", "") for span in trace})
    request_ids = sorted(
        {str(s["attributes"][REQUEST_ID]) for s in trace if REQUEST_ID in s.get("attributes", {})}
    )
    when = datetime.fromtimestamp(start / 1e9, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    lines = [
        f"trace {trace[0]['trace_id']}  {when} UTC  {len(trace)} spans"
        f"  {(end - start) / 1e6:.1f} ms  services: {', '.join(services)}"
        + (f"  request: {', '.join(request_ids)}" if request_ids else ""),
        f"{'start':>10} {'duration':>10}  {'service':<10} {'kind':<8} span",
    ]
    width = max(len(span.get("service", "")) for span in trace)

    def walk(span: Span, depth: int) -> None:
        offset = (span["start_ns"] - start) / 1e6
        duration = (span["end_ns"] - span["start_ns"]) / 1e6
        lines.append(
            f"{f'+{offset:.1f} ms':>10} {f'{duration:.1f} ms':>10}  "
            f"{span.get('service', ''):<{max(width, 10)}} {_label(span):<8} "
            f"{'  ' * depth}{span['name']}{_outcome(span)}"
        )
        for child in children.get(span["span_id"], []):
            walk(child, depth + 1)

    for root in children[None]:
        walk(root, 0)
    return "\n".join(lines)


def _show(directory: Path, wanted: str, wait: float) -> int:
    deadline = time.monotonic() + wait
    found = traces_of(read_spans(directory), wanted)
    # Spans reach the files a little after the call: wait for the trace to appear, then
    # for it to stop growing (the events it caused are handled after the reply).
    seen, stable_since = -1, time.monotonic()
    while time.monotonic() < deadline:
        count = sum(len(members) for members in found.values())
        if count != seen:
            seen, stable_since = count, time.monotonic()
        elif count and time.monotonic() - stable_since >= SETTLE_SECONDS:
            break
        time.sleep(0.2)
        found = traces_of(read_spans(directory), wanted)
    if not found:
        print(f"no trace with id or request id {wanted!r} in {directory}", file=sys.stderr)
        return 1
    print("\n\n".join(render(members) for members in found.values()))
    return 0


def _list(directory: Path, limit: int) -> int:
    by_trace: dict[str, list[Span]] = defaultdict(list)
    for span in read_spans(directory):
        by_trace[span["trace_id"]].append(span)
    latest = sorted(by_trace.values(), key=lambda t: min(s["start_ns"] for s in t))[-limit:]
    for trace in latest:
        first = min(trace, key=lambda s: s["start_ns"])
        start = first["start_ns"]
        end = max(s["end_ns"] for s in trace)
        when = datetime.fromtimestamp(start / 1e9, UTC).strftime("%H:%M:%S")
        request = first.get("attributes", {}).get(REQUEST_ID, "")
        print(
            f"{when} {trace[0]['trace_id']} {(end - start) / 1e6:9.1f} ms {len(trace):4} spans"
            f"  {first['name']}  {request}"
        )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m keel_runtime.traces", description=__doc__)
    parser.add_argument(
        "--dir",
        type=Path,
        default=None,
        help="trace files (default $KEEL_TRACES_DIR or var/traces)",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    show = commands.add_parser("show", help="print the trace(s) of a request id or trace id")
    show.add_argument("id", help="a request id (x-request-id) or a 32-hex-digit trace id")
    show.add_argument(
        "--wait", type=float, default=0.0, metavar="SECONDS", help="wait for it to be written"
    )
    listing = commands.add_parser("list", help="the latest traces, one line each")
    listing.add_argument("--limit", type=int, default=20)
    args = parser.parse_args(argv)
    directory = args.dir or default_directory()
    if args.command == "show":
        return _show(directory, args.id, args.wait)
    return _list(directory, args.limit)


if __name__ == "__main__":
    sys.exit(main())
