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
# How often a server may die while starting (or lose its port) before the stack gives up.
START_ATTEMPTS = 3
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
        self,
        probe: Callable[[], bool],
        *,
        timeout: float = 30.0,
        interval: float = 0.05,
        ports: Sequence[int] = (),
    ) -> float:
        """Poll `probe` until it is true; fail fast if the process exits. Returns seconds taken.

        A probe alone can be answered by another server on the same port (another checkout's
        stack): the process is ready only once it listens on each of `ports` itself.
        """
        started = time.monotonic()
        deadline = started + timeout
        while True:
            if not self.alive:
                raise StartError(
                    f"{self.name} exited with code {self.returncode} while starting;"
                    f" log {self.log_path}:\n{self.log_tail()}"
                )
            if self._owns(ports) and probe():
                return time.monotonic() - started
            if time.monotonic() > deadline:
                self.stop()
                raise StartError(
                    f"{self.name} not ready after {timeout:.0f}s; log {self.log_path}:\n"
                    f"{self.log_tail()}"
                )
            time.sleep(interval)

    def _owns(self, ports: Sequence[int]) -> bool:
        pid = self.pid
        return pid is not None and all(listens(pid, port) for port in ports)


def listens(pid: int, port: int) -> bool:
    """Whether process `pid` itself holds a listening TCP socket on `port`.

    Read from /proc (the sockets in LISTEN state on the port, then the process's open
    files); where /proc has no such tables (not Linux) it answers True.
    """
    inodes: set[str] = set()
    tables = [Path("/proc/net/tcp"), Path("/proc/net/tcp6")]
    if not any(table.exists() for table in tables):
        return True
    for table in tables:
        try:
            rows = table.read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == _TCP_LISTEN and int(local.rsplit(":", 1)[1], 16) == port:
                inodes.add(f"socket:[{inode}]")
    if not inodes:
        return False
    fd_dir = Path(f"/proc/{pid}/fd")
    try:
        fds = list(fd_dir.iterdir())
    except OSError:
        return False
    for fd in fds:
        try:
            if os.readlink(fd) in inodes:
                return True
        except OSError:
            continue
    return False


_TCP_LISTEN = "0A"


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
