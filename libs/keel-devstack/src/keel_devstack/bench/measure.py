"""Interleaved baseline/subject rounds with steal accounting, and rows judged as ratios."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field

from keel_devstack.bench import steal

Rates = Mapping[str, float]
"""Named rates (operations per second) from one measurement."""
Measure = Callable[[], Awaitable[Rates]]
Say = Callable[[str], None]


@dataclass(frozen=True)
class Settings:
    """How long and how often each side is measured; shared by every benchmark."""

    rounds: int = 5
    seconds: float = 1.0
    """Length of one measurement of one side."""
    steal_limit_pct: float = 5.0
    """A round with more steal than this on either side is flagged and run again once."""
    quick: bool = False
    rows: tuple[str, ...] = ()
    """Only the rows whose id is given (P1, P6...), when a benchmark's rows are separable;
    empty: every row."""

    def wants(self, row: str) -> bool:
        return not self.rows or row in self.rows


@dataclass
class Round:
    """One baseline measurement followed by one subject measurement."""

    index: int
    baseline: dict[str, float]
    subject: dict[str, float]
    steal_pct: float | None
    """The worse of the two sides."""
    contaminated: bool
    load_1m: float | None = None
    """Load average when the round began: other work on this machine is not steal."""
    kept: bool = True
    repeat: bool = False


async def _timed(measure: Measure) -> tuple[dict[str, float], float | None]:
    before = steal.sample()
    rates = dict(await measure())
    return rates, steal.percent(before, steal.sample())


async def _round(index: int, baseline: Measure, subject: Measure, limit: float) -> Round:
    load = steal.load_average()
    base, base_steal = await _timed(baseline)
    subj, subj_steal = await _timed(subject)
    stolen = [s for s in (base_steal, subj_steal) if s is not None]
    worst = max(stolen) if stolen else None
    contaminated = worst is not None and worst > limit
    return Round(index, base, subj, worst, contaminated, load_1m=load)


async def interleave(
    baseline: Measure, subject: Measure, settings: Settings, say: Say
) -> list[Round]:
    """Baseline and subject alternate (A B A B …) so drift hits both alike.

    A contaminated round is kept in the record but not in the figures, and run once more;
    if the repeat is contaminated too, it counts anyway (flagged) rather than looping.
    """
    rounds: list[Round] = []
    for index in range(settings.rounds):
        done = await _round(index, baseline, subject, settings.steal_limit_pct)
        say(f"    round {index + 1}: {_brief(done)}")
        if done.contaminated:
            done.kept = False
            rounds.append(done)
            say(f"    round {index + 1}: steal above {settings.steal_limit_pct:g}%, repeating once")
            done = await _round(index, baseline, subject, settings.steal_limit_pct)
            done.repeat = True
            say(f"    round {index + 1} (repeat): {_brief(done)}")
        rounds.append(done)
    return rounds


def _brief(r: Round) -> str:
    rates = ", ".join(
        f"{k} {v:,.0f}/s" for k, v in {**r.baseline, **r.subject}.items() if "[" not in k
    )
    stolen = "n/a" if r.steal_pct is None else f"{r.steal_pct:.1f}%"
    load = "" if r.load_1m is None else f", load {r.load_1m:.1f}"
    return f"{rates}; steal {stolen}{load}{' (contaminated)' if r.contaminated else ''}"


@dataclass(frozen=True)
class RowSpec:
    """One reported comparison: subject rate / baseline rate must reach ``target``."""

    name: str
    baseline_key: str
    subject_key: str
    target: float
    why: str
    """Where the target comes from (ARCHITECTURE §8 figures, design intent)."""


@dataclass
class Row:
    """A judged comparison, as printed and as written to JSON."""

    benchmark: str
    name: str
    baseline: str
    subject: str
    baseline_per_s: float
    subject_per_s: float
    ratio: float
    target: float
    why: str
    steal_pct: float | None
    """Worst steal among the rounds counted."""
    contaminated_rounds: int
    reruns: int
    verdict: str
    rounds: list[dict[str, float | bool | None]] = field(default_factory=list)
    unit: str = "x"
    """"x" for a ratio; otherwise ``ratio`` holds an absolute figure in this unit."""
    lower_is_better: bool = False
    cpu: dict[str, float] = field(default_factory=dict)
    """CPU-seconds per 1,000 operations: server and client, subject and baseline side."""
    load_1m: float | None = None


CPU_SUFFIXES = {
    "server": " [server cpu-s/1k]",
    "client": " [client cpu-s/1k]",
    "stack": " [stack cpu-s/1k]",
}


def verdict(value: float, target: float, lower_is_better: bool = False) -> str:
    met = value <= target if lower_is_better else value >= target
    return "PASS" if met else "MISS"


def _cpu(kept: Sequence[Round], spec: RowSpec) -> dict[str, float]:
    """Medians of the CPU figures a round recorded next to its rates (load.rates)."""
    found: dict[str, float] = {}
    for side, key, measured in (
        ("subject", spec.subject_key, [r.subject for r in kept]),
        ("baseline", spec.baseline_key, [r.baseline for r in kept]),
    ):
        for who, suffix in CPU_SUFFIXES.items():
            values = [m[key + suffix] for m in measured if key + suffix in m]
            if values:
                found[f"{who} {side}"] = statistics.median(values)
        # One server's share: "<key> [server <name> cpu-s/1k]" -> "server <name> <side>".
        prefix, end = f"{key} [server ", " cpu-s/1k]"
        names = {
            k[len(prefix) : -len(end)]
            for m in measured
            for k in m
            if k.startswith(prefix) and k.endswith(end) and len(k) > len(prefix) + len(end)
        }
        for server in sorted(names):
            per_round = [m[f"{prefix}{server}{end}"] for m in measured]
            found[f"server {server} {side}"] = statistics.median(per_round)
    return found


def absolute(
    benchmark: str,
    name: str,
    value: float,
    *,
    target: float,
    unit: str,
    why: str,
    lower_is_better: bool = False,
    cpu: dict[str, float] | None = None,
) -> Row:
    """A row judged on a figure of its own (latency, memory, a rate per core), not a ratio."""
    return Row(
        benchmark=benchmark,
        name=name,
        baseline="",
        subject=name,
        baseline_per_s=0.0,
        subject_per_s=value,
        ratio=value,
        target=target,
        why=why,
        steal_pct=None,
        contaminated_rounds=0,
        reruns=0,
        verdict=verdict(value, target, lower_is_better),
        unit=unit,
        lower_is_better=lower_is_better,
        cpu=dict(cpu or {}),
    )


def judge(benchmark: str, spec: RowSpec, rounds: Sequence[Round]) -> Row:
    """Medians over the kept rounds; the ratio is the median of per-round (paired) ratios."""
    kept = [r for r in rounds if r.kept] or list(rounds)
    base = [r.baseline[spec.baseline_key] for r in kept]
    subj = [r.subject[spec.subject_key] for r in kept]
    ratios = [s / b for b, s in zip(base, subj, strict=True) if b > 0]
    ratio = statistics.median(ratios) if ratios else 0.0
    stolen = [r.steal_pct for r in kept if r.steal_pct is not None]
    return Row(
        benchmark=benchmark,
        name=spec.name,
        baseline=spec.baseline_key,
        subject=spec.subject_key,
        baseline_per_s=statistics.median(base),
        subject_per_s=statistics.median(subj),
        ratio=ratio,
        target=spec.target,
        why=spec.why,
        steal_pct=max(stolen) if stolen else None,
        contaminated_rounds=sum(r.contaminated for r in rounds),
        reruns=sum(r.repeat for r in rounds),
        verdict=verdict(ratio, spec.target),
        rounds=[
            {
                "baseline_per_s": r.baseline[spec.baseline_key],
                "subject_per_s": r.subject[spec.subject_key],
                "steal_pct": r.steal_pct,
                "load_1m": r.load_1m,
                "contaminated": r.contaminated,
                "kept": r.kept,
                "repeat": r.repeat,
            }
            for r in rounds
        ],
        cpu=_cpu(kept, spec),
        load_1m=max((r.load_1m for r in kept if r.load_1m is not None), default=None),
    )


@dataclass
class Outcome:
    """What one benchmark hands back: its judged rows and facts worth keeping with them."""

    rows: list[Row]
    notes: dict[str, object] = field(default_factory=dict)


Step = Callable[[], Awaitable[int]]


async def closed_loop(workers: int, seconds: float, step: Step) -> float:
    """``workers`` callers each running ``step`` back to back for ``seconds``; returns ops/s."""
    count = 0
    stop = time.monotonic() + seconds

    async def worker() -> None:
        nonlocal count
        while time.monotonic() < stop:
            done = await step()  # not `count += await …`: that reads count before awaiting
            count += done

    started = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(workers)))
    return count / (time.monotonic() - started)
