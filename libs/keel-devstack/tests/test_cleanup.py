"""No server outlives its owner: not on SIGTERM, not even when the owner is SIGKILLed."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from keel_devstack.process import group_alive

OWNER = """
import sys, time
from pathlib import Path
from keel_devstack.embedded import EmbeddedInfra

infra = EmbeddedInfra(Path(sys.argv[1]))
infra.redis_url()
infra.nats_url()
print(infra.redis.process.pid, infra.nats.process.pid, flush=True)
try:
    time.sleep(60)
finally:
    infra.close()
"""


def wait_gone(pgid: int, timeout: float = 10.0) -> bool:
    # These are not our children: there is no exit event to await, only to observe.
    deadline = time.monotonic() + timeout
    while group_alive(pgid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL])
def test_servers_die_with_their_owner(
    scratch: Path, sig: signal.Signals, interruptible: Callable[[], None]
) -> None:
    owner = subprocess.Popen(
        [sys.executable, "-c", OWNER, str(scratch)],
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=interruptible,
    )
    try:
        assert owner.stdout is not None
        pids = [int(pid) for pid in owner.stdout.readline().split()]
        assert len(pids) == 2 and all(group_alive(pid) for pid in pids)
        owner.send_signal(sig)
        owner.wait(10)
        assert all(wait_gone(pid) for pid in pids)
    finally:
        owner.kill()
        owner.wait()
