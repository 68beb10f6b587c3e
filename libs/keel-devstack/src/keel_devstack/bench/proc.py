"""CPU seconds and resident memory of server processes, read from /proc.

CPU-seconds per operation is far steadier than operations per second on a shared machine:
other tenants slow a server down but do not make it do more work per call.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _stat_fields(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces: split after its closing parenthesis.
    return text[text.rindex(")") + 2 :].split()


def cpu_seconds(pid: int, *, with_reaped_children: bool = False) -> float | None:
    """utime + stime of one process (and, optionally, of its children it has reaped)."""
    fields = _stat_fields(pid)
    if fields is None:
        return None
    # After the name: state(3) ppid(4) ... utime(14) stime(15) cutime(16) cstime(17).
    ticks = int(fields[11]) + int(fields[12])
    if with_reaped_children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / TICKS


def children(pid: int) -> list[int]:
    """Direct children (PostgreSQL backends are children of the postmaster)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat_fields(int(entry.name))
            if fields is not None and int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def tree_cpu_seconds(pid: int) -> float | None:
    """A server with worker processes: itself, live children, and the children it reaped."""
    own = cpu_seconds(pid, with_reaped_children=True)
    if own is None:
        return None
    return own + sum(cpu_seconds(child) or 0.0 for child in children(pid))


def rss_bytes(pid: int) -> int | None:
    """Resident set size now (VmRSS)."""
    try:
        fields = Path(f"/proc/{pid}/statm").read_text().split()
    except OSError:
        return None
    return int(fields[1]) * PAGE


def tree_rss_bytes(pid: int) -> int | None:
    own = rss_bytes(pid)
    if own is None:
        return None
    return own + sum(rss_bytes(child) or 0 for child in children(pid))


def pss_bytes(pid: int) -> int | None:
    """Proportional set size now: each shared page divided among the processes mapping it.
    The services share their libraries (gRPC, OpenSSL, Python), which RSS counts in each."""
    try:
        lines = Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        if line.startswith("Pss:"):
            return int(line.split()[1]) * 1024
    return None


def tree_pss_bytes(pid: int) -> int | None:
    own = pss_bytes(pid)
    if own is None:
        return None
    return own + sum(pss_bytes(child) or 0 for child in children(pid))


@dataclass(frozen=True)
class Server:
    """A server process to account for; ``tree`` for a postmaster with its backends."""

    pid: int
    tree: bool = False

    def cpu(self) -> float:
        value = tree_cpu_seconds(self.pid) if self.tree else cpu_seconds(self.pid)
        return value or 0.0


class CpuMeter:
    """CPU seconds spent by named servers between `start()` and `stop()`."""

    def __init__(self, servers: Mapping[str, Server]) -> None:
        self.servers = dict(servers)
        self._before: dict[str, float] = {}

    def start(self) -> None:
        self._before = {name: server.cpu() for name, server in self.servers.items()}

    def stop(self) -> dict[str, float]:
        return {
            name: max(0.0, server.cpu() - self._before.get(name, 0.0))
            for name, server in self.servers.items()
        }
