"""A child server process in its own process group, logged to a file, never left behind."""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

_PR_SET_PDEATHSIG = 1
_LIVE: list[ManagedProcess] = []
_LIVE_LOCK = threading.Lock()


class StartError(RuntimeError):
    """A component did not become ready; the message carries the end of its log."""


class ManagedProcess:
    """One server process: started in a new session so stopping it kills every descendant."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        log_path: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        user: str | None = None,
        stop_signal: signal.Signals = signal.SIGTERM,
        death_signal: signal.Signals = signal.SIGTERM,
        before_start: Callable[[], None] | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        self.user = user
        self.stop_signal = stop_signal
        self.death_signal = death_signal
        # Runs before every start, restarts included (e.g. clear a crashed server's pid file).
        self.before_start = before_start
        self._popen: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._popen.pid if self._popen is not None else None

    @property
    def returncode(self) -> int | None:
        return self._popen.poll() if self._popen is not None else None

    @property
    def alive(self) -> bool:
        return self._popen is not None and self._popen.poll() is None

    def start(self) -> None:
        """Spawn the process; output goes (appended) to the log file."""
        if self.before_start is not None:
            self.before_start()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self._popen = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=self.cwd,
                user=self.user,
                start_new_session=True,
                preexec_fn=_death_signal_setter(self.death_signal),
            )
        with _LIVE_LOCK:
            _LIVE.append(self)

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the process to exit; raises subprocess.TimeoutExpired."""
        assert self._popen is not None, "not started"
        return self._popen.wait(timeout)

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the leader to stop, then kill whatever is left of its process group."""
        popen = self._popen
        if popen is None:
            return
        pgid = popen.pid  # leader of its own session: pgid == pid
        if popen.poll() is None:
            _signal_group(pgid, self.stop_signal)
            with contextlib.suppress(subprocess.TimeoutExpired):
                popen.wait(timeout)
        # Children (postgres backends, a service's workers) may outlive the leader.
        _signal_group(pgid, signal.SIGKILL)
        popen.wait()
        with _LIVE_LOCK:
            if self in _LIVE:
                _LIVE.remove(self)

    def log_tail(self, lines: int = 20) -> str:
        """The last lines of the log, for error messages."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def wait_ready(
        self, probe: Callable[[], bool], *, timeout: float = 30.0, interval: float = 0.05
    ) -> float:
        """Poll `probe` until it is true; fail fast if the process exits. Returns seconds taken."""
        started = time.monotonic()
        deadline = started + timeout
        while True:
            if not self.alive:
                raise StartError(
                    f"{self.name} exited with code {self.returncode} while starting;"
                    f" log {self.log_path}:\n{self.log_tail()}"
                )
            if probe():
                return time.monotonic() - started
            if time.monotonic() > deadline:
                self.stop()
                raise StartError(
                    f"{self.name} not ready after {timeout:.0f}s; log {self.log_path}:\n"
                    f"{self.log_tail()}"
                )
            time.sleep(interval)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _death_signal_setter(sig: signal.Signals) -> Callable[[], None] | None:
    """Have the kernel signal the child if we die without cleaning up (e.g. SIGKILL).

    The kernel ties this to the spawning *thread*, so it is only armed from the main
    thread, which lives as long as the process.
    """
    if threading.current_thread() is not threading.main_thread():
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        prctl = libc.prctl
    except (OSError, AttributeError):  # not Linux
        return None
    parent = os.getpid()

    def arm() -> None:
        prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
        if os.getppid() != parent:  # the parent died before we armed it
            os._exit(1)

    return arm


def stop_all() -> None:
    """Stop every live process, newest first (atexit and signal paths)."""
    while True:
        with _LIVE_LOCK:
            if not _LIVE:
                return
            proc = _LIVE[-1]
        proc.stop(timeout=5.0)


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def install_signal_handlers() -> None:
    """Turn SIGTERM/SIGHUP into KeyboardInterrupt so `finally` blocks and teardowns run."""
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(sig) in (signal.SIG_DFL, None):
            signal.signal(sig, _raise_interrupt)


atexit.register(stop_all)


def group_alive(pgid: int) -> bool:
    """True while any process of the group is left (for tests and leak checks)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    return True
