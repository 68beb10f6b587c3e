"""`python -m keel_devstack run` end to end with stand-in services: state file, Ctrl-C, cleanup."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from keel_devstack.process import group_alive

STANDIN_DIR = Path(__file__).parent / "standin"

RUNNER = """
import sys
from pathlib import Path
from keel_devstack.__main__ import run_stack
from keel_devstack.services import ServiceDef

standin = ServiceDef("standin", "standin_service", port=0, database="keel_standin",
                     path=(sys.argv[2],))
sys.exit(run_stack(Path(sys.argv[1]), verbose=True, only=None, services=[standin],
                   gateway_root=Path(sys.argv[1])))
"""


@pytest.mark.parametrize("sig", [signal.SIGINT])
def test_run_writes_state_and_stops_everything(
    scratch: Path, sig: signal.Signals, interruptible: Callable[[], None]
) -> None:
    var = scratch / "var"
    runner = subprocess.Popen(
        [sys.executable, "-c", RUNNER, str(var), str(STANDIN_DIR)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=interruptible,
    )
    try:
        _check_run(runner, var, sig)
    finally:
        if runner.poll() is None:  # a failed check must not leave a stack running
            runner.send_signal(signal.SIGINT)
            runner.communicate(timeout=30)


def _check_run(runner: subprocess.Popen[str], var: Path, sig: signal.Signals) -> None:
    assert runner.stdout is not None
    output: list[str] = []
    for line in runner.stdout:  # the summary's last line says where the state is
        output.append(line)
        if "stack.json" in line:
            break
    state_file = var / "run" / "stack.json"
    state = json.loads(state_file.read_text())
    # The operator's NATS password is in it (the summary shows only the bare address).
    assert state_file.stat().st_mode & 0o777 == 0o600
    # NATS takes mutual TLS clients only (certificates of the run's CA, in var/tls).
    assert state["nats_operator_url"].startswith("tls://operator:")
    assert state["nats_url"].startswith("tls://127.0.0.1:")
    pids = _children(runner.pid)
    assert len(pids) == 4, pids  # postgres, redis, nats, standin
    # A second run in the same checkout refuses, and leaves the running stack's state alone.
    second = subprocess.run(
        [sys.executable, "-c", RUNNER, str(var), str(STANDIN_DIR)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert second.returncode == 1, second.stdout + second.stderr
    assert "already runs" in second.stdout, second.stdout
    assert json.loads(state_file.read_text()) == state
    runner.send_signal(sig)
    rest, _ = runner.communicate(timeout=30)
    text = "".join(output) + rest
    assert runner.returncode == 0, text
    assert "standin" in state["services"] and state["gateway_url"] is None
    assert f"metrics http://{state['metrics']['standin']}/metrics" in text
    assert "buf curl --protocol grpc --reflect --cacert" in text  # services require mTLS
    assert oct(Path(state["tls"]["dir"]).stat().st_mode & 0o777) == oct(0o700)
    assert oct(Path(state["tls"]["operator_key"]).stat().st_mode & 0o777) == oct(0o600)
    assert "stopped postgres" in text and "stopped." in text
    assert state["nats_operator_url"] not in text
    assert not state_file.exists()
    assert not any(group_alive(pid) for pid in pids)
    assert (var / "log" / "standin.log").exists()


def _children(parent: int) -> list[int]:
    """Direct children of `parent` (each server leads its own process group)."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == parent:
                found.append(int(proc.name))
    return found


def _wait_for_state(runner: subprocess.Popen[str], var: Path) -> dict[str, object]:
    assert runner.stdout is not None
    output: list[str] = []
    for line in runner.stdout:
        output.append(line)
        if "stack.json" in line:
            return dict(json.loads((var / "run" / "stack.json").read_text()))
    raise AssertionError("the stack did not start:\n" + "".join(output))


def test_two_checkouts_run_side_by_side(scratch: Path, interruptible: Callable[[], None]) -> None:
    """Two stacks that prefer the same ports each get their own servers, never the other's."""
    runners: list[subprocess.Popen[str]] = []
    try:
        states = []
        for name in ("first", "second"):
            var = scratch / name
            runner = subprocess.Popen(
                [sys.executable, "-c", RUNNER, str(var), str(STANDIN_DIR)],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                preexec_fn=interruptible,
            )  # fmt: skip
            runners.append(runner)
            states.append(_wait_for_state(runner, var))
        first, second = states
        for key in ("database_url", "nats_url", "redis_url"):
            assert first[key] != second[key], key
        assert first["services"] != second["services"]
        # Each stack's PostgreSQL is its own: its data directory lies under that stack's var/.
        for name, state in zip(("first", "second"), states, strict=True):
            with psycopg.connect(str(state["database_url"])) as conn:
                row = conn.execute("SHOW data_directory").fetchone()
            assert row is not None and row[0].startswith(str(scratch / name)), row
    finally:
        for runner in runners:
            if runner.poll() is None:
                runner.send_signal(signal.SIGINT)
                runner.communicate(timeout=30)
    assert all(runner.returncode == 0 for runner in runners)
