"""Embedded PostgreSQL: the `pgserver` wheel's bundled initdb/postgres on a TCP port."""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import signal
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

import psycopg

from keel_devstack.ports import free_port
from keel_devstack.process import ManagedProcess, StartError

# Throwaway clusters (tests) skip every fsync; a `make run` cluster keeps fsync so an OS
# crash cannot corrupt it, and only drops synchronous commit (loses the last few ms).
FAST_SETTINGS = {"fsync": "off", "full_page_writes": "off", "synchronous_commit": "off"}
DEV_SETTINGS = {"synchronous_commit": "off"}


@dataclass
class Postgres:
    """A running embedded PostgreSQL server."""

    port: int
    data_dir: Path
    process: ManagedProcess

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def stop(self) -> None:
        self.process.stop()


def bin_dir() -> Path:
    # Located, not imported: importing pgserver creates a lock directory and warns.
    spec = importlib.util.find_spec("pgserver")
    if spec is None or not spec.submodule_search_locations:
        raise StartError("the pgserver wheel is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def start_postgres(
    data_dir: Path,
    *,
    port: int | None = None,
    durable: bool = False,
    log_path: Path | None = None,
    timeout: float = 30.0,
) -> Postgres:
    """Initialise `data_dir` if needed, start postgres on 127.0.0.1 and wait for SELECT 1."""
    data_dir = data_dir.resolve()
    user = _server_user()
    cluster = data_dir / "pgdata"
    if not (cluster / "PG_VERSION").exists():
        _initdb(cluster, user)
    port = port or free_port()
    settings = {
        "port": str(port),
        "listen_addresses": "127.0.0.1",
        # TCP only: socket paths under a deep data dir exceed the 107-byte limit.
        "unix_socket_directories": "",
        "max_connections": "300",
        "logging_collector": "off",
        **(DEV_SETTINGS if durable else FAST_SETTINGS),
    }
    argv = [str(bin_dir() / "postgres"), "-D", str(cluster)]
    for key, value in settings.items():
        argv += ["-c", f"{key}={value}"]
    process = ManagedProcess(
        "postgres",
        argv,
        log_path=log_path or data_dir / "postgres.log",
        user=user,
        env=_env(),
        # SIGINT is "fast shutdown": SIGTERM would wait for every client to disconnect.
        stop_signal=signal.SIGINT,
        # SIGQUIT is "immediate shutdown": the postmaster takes its backends down with it.
        death_signal=signal.SIGQUIT,
    )
    _remove_stale_pid(cluster)
    process.start()
    server = Postgres(port=port, data_dir=data_dir, process=process)
    process.wait_ready(lambda: _answers(server.url), timeout=timeout)
    return server


def _initdb(cluster: Path, user: str | None) -> None:
    cluster.parent.mkdir(parents=True, exist_ok=True)
    if user is not None:
        _check_traversable(cluster.parent, user)
        shutil.chown(cluster.parent, user)
    argv = [
        str(bin_dir() / "initdb"),
        "-D",
        str(cluster),
        "-U",
        "postgres",
        "--auth=trust",
        "--encoding=UTF8",
        "--locale=C.UTF-8",
        "--no-sync",
        "--no-instructions",
    ]
    done = subprocess.run(argv, user=user, env=_env(), capture_output=True, text=True)
    if done.returncode != 0:
        raise StartError(f"initdb failed:\n{done.stdout}\n{done.stderr}")


def _check_traversable(path: Path, user: str) -> None:
    for parent in path.parents:
        if not parent.stat().st_mode & stat.S_IXOTH:
            raise StartError(
                f"postgres runs as {user!r} (we are root) and cannot enter {parent};"
                " use a data directory whose parents are world-traversable"
            )


def _answers(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=1) as conn:
            conn.execute("SELECT 1")
    except psycopg.OperationalError:
        return False
    return True


def _remove_stale_pid(cluster: Path) -> None:
    """A postmaster.pid left by a killed run blocks startup if its pid is now reused."""
    pid_file = cluster / "postmaster.pid"
    try:
        pid = int(pid_file.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:  # no such process
        pid_file.unlink(missing_ok=True)
        return
    if b"postgres" not in cmdline:  # the pid was reused by something else
        pid_file.unlink(missing_ok=True)
        return
    raise StartError(f"a postgres (pid {pid}) already runs on {cluster}; stop it first")


def _server_user() -> str | None:
    """postgres refuses to run as root; under root run it as an unprivileged system user."""
    if os.geteuid() != 0:
        return None
    for name in (os.environ.get("KEEL_PG_USER", ""), "pgserver", "postgres", "nobody"):
        if not name:
            continue
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        return name
    raise StartError("running as root and no unprivileged user to run postgres as")


def _env() -> dict[str, str]:
    # No inherited PG* variables: they would redirect initdb/postgres.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["LC_ALL"] = "C.UTF-8"
    return env
