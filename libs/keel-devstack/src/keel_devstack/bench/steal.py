"""CPU steal from /proc/stat (what the hypervisor took away) and the load average."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

PROC_STAT = Path("/proc/stat")
PROC_LOADAVG = Path("/proc/loadavg")


@dataclass(frozen=True)
class CpuTimes:
    """Aggregate jiffies over all CPUs: the busy/idle total and the stolen part of it."""

    total: int
    steal: int


def sample(path: Path = PROC_STAT) -> CpuTimes | None:
    """The `cpu` line of /proc/stat, or None where there is none (not Linux)."""
    try:
        first = path.read_text().splitlines()[0]
    except (OSError, IndexError):
        return None
    fields = first.split()
    if not fields or fields[0] != "cpu":
        return None
    # user nice system idle iowait irq softirq steal [guest guest_nice]: guest time is
    # already counted in user/nice, so only the first eight add up to the total.
    values = [int(v) for v in fields[1:9]]
    values += [0] * (8 - len(values))
    return CpuTimes(total=sum(values), steal=values[7])


def percent(before: CpuTimes | None, after: CpuTimes | None) -> float | None:
    """Stolen share of all CPU time between two samples, in percent."""
    if before is None or after is None:
        return None
    total = after.total - before.total
    if total <= 0:
        return 0.0
    return 100.0 * (after.steal - before.steal) / total


def load_average(path: Path = PROC_LOADAVG) -> float | None:
    """The 1-minute load average: other processes competing for the cores show here."""
    try:
        return float(path.read_text().split()[0])
    except (OSError, IndexError, ValueError):
        return None
