"""`python -m keel_devstack.bench` (`make bench`): every benchmark, a table and latest.json."""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from keel_devstack.bench import chart, grpc_unary, ledger, mesh, relay, steal
from keel_devstack.bench.env import Env
from keel_devstack.bench.measure import Outcome, Settings
from keel_devstack.bench.report import append_history, legend, table, write_json
from keel_devstack.embedded import EmbeddedInfra
from keel_devstack.progress import Progress
from keel_devstack.stack import repo_root

BENCHMARKS: dict[str, Callable[[Env], Outcome]] = {
    ledger.NAME: ledger.run,
    relay.NAME: relay.run,
    grpc_unary.NAME: grpc_unary.run,
    # Last: it starts the whole mesh, whose background work would disturb the others.
    mesh.NAME: mesh.run,
}


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m keel_devstack.bench", description=__doc__)
    parser.add_argument(
        "--only",
        action="append",
        metavar="NAME",
        help=f"run only these (repeatable or comma-separated): {', '.join(BENCHMARKS)}",
    )
    parser.add_argument(
        "--rows",
        action="append",
        metavar="ID",
        help="only these rows of the mesh benchmark (repeatable or comma-separated): P1..P6",
    )
    parser.add_argument("--quick", action="store_true", help="2 short rounds each (a smoke run)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a row is MISS")
    parser.add_argument("--rounds", type=int, default=None, help="rounds per benchmark")
    parser.add_argument("--seconds", type=float, default=None, help="seconds per measurement")
    parser.add_argument(
        "--steal-limit",
        type=float,
        default=Settings.steal_limit_pct,
        metavar="PCT",
        help="CPU steal above which a round is rerun once (default %(default)s)",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=None,
        help="JSON results (default <repo>/var/bench/latest.json)",
    )
    return parser.parse_args(argv)


def selected(only: list[str] | None) -> list[str]:
    if not only:
        return list(BENCHMARKS)
    names = [n.strip() for item in only for n in item.split(",") if n.strip()]
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        raise SystemExit(
            f"unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}"
        )
    return [n for n in BENCHMARKS if n in names]


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    names = selected(args.only)
    settings = Settings(
        rounds=args.rounds or (2 if args.quick else Settings.rounds),
        seconds=args.seconds or (0.5 if args.quick else Settings.seconds),
        steal_limit_pct=args.steal_limit,
        quick=args.quick,
        rows=tuple(r.strip() for item in args.rows or () for r in item.split(",") if r.strip()),
    )
    progress = Progress(sys.stderr)
    infra = EmbeddedInfra()
    output = args.output or repo_root() / "var" / "bench" / "latest.json"
    env = Env(infra=infra, settings=settings, say=progress.say, output_dir=output.parent)
    started, began, before = datetime.now(UTC), time.monotonic(), steal.sample()
    outcomes: dict[str, Outcome] = {}
    errors: dict[str, str] = {}
    try:
        for name in names:
            progress.say(f"{name}:")
            t0 = time.monotonic()
            try:
                outcomes[name] = BENCHMARKS[name](env)
            except Exception as exc:  # one broken benchmark must not hide the others' figures
                traceback.print_exc()
                errors[name] = f"{type(exc).__name__}: {exc}"
            progress.say(f"  {name} took {time.monotonic() - t0:.1f}s")
    finally:
        infra.close()
    total_steal = steal.percent(before, steal.sample())
    for name, outcome in outcomes.items():  # sections that failed inside a benchmark
        sections = outcome.notes.get("errors")
        if isinstance(sections, dict):
            errors.update({f"{name} {part}": str(why) for part, why in sections.items()})
    rows = [row for outcome in outcomes.values() for row in outcome.rows]
    write_json(
        output,
        settings=settings,
        outcomes=outcomes,
        errors=errors,
        started=started,
        steal_pct=total_steal,
    )
    history = output.parent / "history.jsonl"
    append_history(history, output)
    png = chart.draw(history, output.parent / "history.png")
    print()
    print(table(rows, errors))
    print()
    print(legend(rows))
    stolen = "n/a" if total_steal is None else f"{total_steal:.1f}%"
    load = steal.load_average()
    print(
        f"\n{time.monotonic() - began:.0f}s, CPU steal over the run {stolen},"
        f" load average at the end {load if load is not None else 'n/a'};"
        f" wrote {output}, {history}" + (f", {png}" if png else " (no chart: matplotlib missing)")
    )
    if errors:
        return 1
    if args.strict and any(row.verdict != "PASS" for row in rows):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
