"""Embedded PostgreSQL: the `pgserver` wheel's bundled initdb/postgres on a TCP port.

PostgreSQL refuses to run as root, so under root the server runs as an unprivileged user,
which must reach both its binaries and its data. A checkout in a private directory (mode
700, e.g. /root/keel) hides both from it; then the binaries are copied once per version
into a cache outside the checkout and the cluster lives beside them (see `PrivateCache`).

TLS: given the stack's certificates (`make run`, the `mesh` fixture), a server built with
OpenSSL runs with `ssl = on`, its certificate from the stack's CA, `pg_hba` admitting TLS
connections only, and a URL that verifies it (`sslmode=verify-full`, the CA as
`sslrootcert`). The `pgserver` wheel's build has no OpenSSL ("SSL is not supported by this
build"), so by default the server stays plaintext on 127.0.0.1; `KEEL_PG_BIN` names the
`bin/` of another installation to use instead (e.g. Debian's /usr/lib/postgresql/15/bin,
built with OpenSSL; a cluster made by another major version must be removed first).
"""

from __future__ import annotations

import grp
import hashlib
import importlib.metadata
import importlib.util
import os
import pwd
import secrets
import shutil
import signal
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import psycopg

from keel_devstack.certs import WorkloadFiles
from keel_devstack.ports import free_port
from keel_devstack.process import ManagedProcess, StartError

# Throwaway clusters (tests) skip every fsync. A `make run` cluster is durable: a commit
# is acknowledged only once it is on disk, so a crash never loses an acknowledged write
# (nor leaves an event published for a change that vanished).
FAST_SETTINGS = {"fsync": "off", "full_page_writes": "off", "synchronous_commit": "off"}
DEV_SETTINGS: dict[str, str] = {}
# What the server needs of its installation; include/ is for building extensions.
INSTALL_PARTS = ("bin", "lib", "share")
VENDORED_LIBS = "pgserver.libs"


@dataclass
class Postgres:
    """A running embedded PostgreSQL server."""

    port: int
    data_dir: Path
    process: ManagedProcess
    # Where the cluster really is: data_dir/pgdata, or a private cache when the server
    # user cannot reach data_dir.
    cluster: Path
    tls_ca: Path | None = None
    """The CA that signed the server's certificate when it takes TLS connections only."""

    @property
    def url(self) -> str:
        """The administrator's URL; URLs made from it keep its query, so every client of a
        TLS server verifies it."""
        base = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        if self.tls_ca is None:
            return base
        # The path percent-encoded: code that splits a URL at its last "/" stays right.
        return f"{base}?sslmode=verify-full&sslrootcert={quote(str(self.tls_ca), safe='')}"

    @property
    def relocated(self) -> bool:
        return self.cluster != self.data_dir / "pgdata"

    def stop(self) -> None:
        self.process.stop()


def wheel_install() -> Path:
    """The pgserver wheel's PostgreSQL installation (bin/, lib/, share/)."""
    # Located, not imported: importing pgserver creates a lock directory and warns.
    spec = importlib.util.find_spec("pgserver")
    if spec is None or not spec.submodule_search_locations:
        raise StartError("the pgserver wheel is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall"


def server_install() -> Path:
    """The installation to run: ``KEEL_PG_BIN``'s parent when set, else the wheel's."""
    if bin_dir := os.environ.get("KEEL_PG_BIN"):
        return Path(bin_dir).resolve().parent
    return wheel_install()


def supports_tls(install: Path) -> bool:
    """Whether this PostgreSQL was built with OpenSSL (pg_config lists its configure flags)."""
    try:
        done = subprocess.run(
            [str(install / "bin" / "pg_config"), "--configure"],
            capture_output=True, text=True, env=_env(), check=False,
        )  # fmt: skip
    except OSError:
        return False
    return "--with-openssl" in done.stdout or "--with-ssl=openssl" in done.stdout


def start_postgres(
    data_dir: Path,
    *,
    port: int | None = None,
    durable: bool = False,
    log_path: Path | None = None,
    timeout: float = 30.0,
    tls: WorkloadFiles | None = None,
) -> Postgres:
    """Initialise `data_dir` if needed, start postgres on 127.0.0.1 and wait for SELECT 1.

    ``tls``: the server's certificate files; used when this build has OpenSSL (module doc),
    else the server stays plaintext (``Postgres.tls_ca`` None).
    """
    data_dir = data_dir.resolve()
    user = _server_user()
    install = server_install()
    if tls is not None and not supports_tls(install):
        tls = None
    if not (install / "bin" / "postgres").is_file():
        raise StartError(f"no PostgreSQL server in {install}: reinstall the pgserver wheel")
    cluster = data_dir / "pgdata"
    if user is not None:
        cache = PrivateCache.for_current_user()
        if not reachable(install, user):
            install = cache.install(install)
        if not reachable(data_dir, user):
            cluster = cache.cluster_for(data_dir, user)
    if not (cluster / "PG_VERSION").exists():
        _initdb(install / "bin", cluster, user)
    _write_hba(cluster, tls=tls is not None)
    port = port or free_port()
    tls_settings = _install_certificate(cluster, tls, user) if tls is not None else {}
    settings = {
        "port": str(port),
        "listen_addresses": "127.0.0.1",
        # TCP only: socket paths under a deep data dir exceed the 107-byte limit.
        "unix_socket_directories": "",
        "max_connections": "300",
        "logging_collector": "off",
        **(DEV_SETTINGS if durable else FAST_SETTINGS),
        **tls_settings,
    }
    argv = [str(install / "bin" / "postgres"), "-D", str(cluster)]
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
        # Also before a supervisor's restart: a killed postmaster leaves its pid file behind.
        before_start=lambda: _remove_stale_pid(cluster),
    )
    process.start()
    server = Postgres(
        port=port,
        data_dir=data_dir,
        process=process,
        cluster=cluster,
        tls_ca=tls.ca_file if tls is not None else None,
    )
    process.wait_ready(lambda: answers(server.url), timeout=timeout, ports=[port])
    return server


def _initdb(bin_path: Path, cluster: Path, user: str | None) -> None:
    cluster.parent.mkdir(parents=True, exist_ok=True)
    if user is not None:
        shutil.chown(cluster.parent, user)
    argv = [
        str(bin_path / "initdb"),
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
    try:
        done = subprocess.run(argv, user=user, env=_env(), capture_output=True, text=True)
    except OSError as error:
        raise StartError(f"initdb failed: {error}") from error
    if done.returncode != 0:
        raise StartError(f"initdb failed:\n{done.stdout}\n{done.stderr}")


# Only the devstack's own administration (the superuser, on loopback) is trusted; every
# service role proves its password with SCRAM. Rewritten at each start, so a cluster made
# before roles existed is tightened too.
HBA = """\
# TYPE  DATABASE  USER      ADDRESS       METHOD
host    all       postgres  127.0.0.1/32  trust
host    all       all       127.0.0.1/32  scram-sha-256
"""


# With TLS the same, over TLS only: a plaintext connection matches no line and is refused
# before any password is asked for.
HBA_TLS = """\
# TYPE   DATABASE  USER      ADDRESS       METHOD
hostssl  all       postgres  127.0.0.1/32  trust
hostssl  all       all       127.0.0.1/32  scram-sha-256
"""


def _write_hba(cluster: Path, *, tls: bool = False) -> None:
    (cluster / "pg_hba.conf").write_text(HBA_TLS if tls else HBA)


def _install_certificate(cluster: Path, tls: WorkloadFiles, user: str | None) -> dict[str, str]:
    """Copy the server's certificate and key into the cluster, owned by the server's user
    (PostgreSQL refuses a key others can read), and return the settings that use them."""
    for name, source, mode in (
        ("server.crt", tls.cert_file, 0o644),
        ("server.key", tls.key_file, 0o600),
    ):
        target = cluster / name
        target.unlink(missing_ok=True)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        with os.fdopen(fd, "wb") as out:
            out.write(source.read_bytes())
        if user is not None:
            shutil.chown(target, user)
    return {"ssl": "on", "ssl_cert_file": "server.crt", "ssl_key_file": "server.key"}


def reachable(path: Path, user: str) -> bool:
    """Whether `user` may enter every directory from / down to `path` (by mode bits)."""
    account = pwd.getpwnam(user)
    groups = {account.pw_gid} | {g.gr_gid for g in grp.getgrall() if user in g.gr_mem}
    for directory in (path, *path.parents):
        try:
            info = directory.stat()
        except FileNotFoundError:
            continue  # created later by us, with modes we choose
        if info.st_uid == account.pw_uid:
            bit = stat.S_IXUSR
        elif info.st_gid in groups:
            bit = stat.S_IXGRP
        else:
            bit = stat.S_IXOTH
        if not info.st_mode & bit:
            return False
    return True


class PrivateCache:
    """Per-user, per-version home for the server when root's checkout is private.

    `<base>/keel-postgres-<uid>/` (base: $KEEL_PG_CACHE or /var/tmp) is owned by the user
    that runs Keel and writable by nobody else; it holds `install-<version>/` (a copy of the
    wheel's bin/lib/share, readable by all like any installed program) and
    `data/<hash of the data dir>/pgdata`, owned by the server user with mode 700, so other
    users cannot read the data.
    """

    def __init__(self, root: Path) -> None:
        self.root = root

    @classmethod
    def for_current_user(cls) -> PrivateCache:
        base = Path(os.environ.get("KEEL_PG_CACHE") or "/var/tmp")
        return cls(base / f"keel-postgres-{os.geteuid()}")

    def install(self, source: Path) -> Path:
        """A copy of `source` the server user can reach; made once, atomically, then reused.

        The copy keeps the wheel's layout: the binaries find the libraries auditwheel
        vendored through an RPATH of $ORIGIN/../../../pgserver.libs.
        """
        target = self._own_dir(self.root) / f"install-{_install_version(source)}"
        if not target.is_dir():
            staging = self.root / f".staging-{os.getpid()}-{secrets.token_hex(4)}"
            try:
                _copy_install(source, staging)
                _open_for_reading(staging)
                try:
                    staging.rename(target)
                except OSError:
                    if not target.is_dir():  # not a concurrent copy that won the rename
                        raise
            finally:
                shutil.rmtree(staging, ignore_errors=True)
        return target / source.relative_to(source.parent.parent)

    def cluster_for(self, data_dir: Path, user: str) -> Path:
        """The cluster directory standing in for `data_dir/pgdata`."""
        key = hashlib.sha256(str(data_dir).encode()).hexdigest()[:16]
        home = self._own_dir(self._own_dir(self.root) / "data") / key
        home.mkdir(mode=0o700, exist_ok=True)
        shutil.chown(home, user)
        home.chmod(0o700)
        return home / "pgdata"

    @staticmethod
    def _own_dir(path: Path) -> Path:
        """Create `path` (0755) or check that it is ours and writable by nobody else."""
        path.mkdir(mode=0o755, parents=True, exist_ok=True)
        info = path.lstat()
        if (
            not stat.S_ISDIR(info.st_mode)
            or info.st_uid != os.geteuid()
            or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
        ):
            raise StartError(
                f"{path} must be a directory owned by uid {os.geteuid()} and writable by"
                " nobody else; remove it or set KEEL_PG_CACHE to another directory"
            )
        return path


def _copy_install(source: Path, dest: Path) -> None:
    """site-packages/{pgserver/pginstall/<parts>, pgserver.libs} from the wheel into dest."""
    site = source.parent.parent
    for part in INSTALL_PARTS:
        shutil.copytree(source / part, dest / source.relative_to(site) / part, symlinks=True)
    if (site / VENDORED_LIBS).is_dir():
        shutil.copytree(site / VENDORED_LIBS, dest / VENDORED_LIBS, symlinks=True)
    else:
        (dest / VENDORED_LIBS).mkdir(parents=True)


def _install_version(source: Path) -> str:
    """The wheel's version, plus the server binary's size so a rebuilt wheel gets its own copy."""
    try:
        version = importlib.metadata.version("pgserver")
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    return f"{version}-{(source / 'bin' / 'postgres').stat().st_size}"


def _open_for_reading(root: Path) -> None:
    """Directories 755 and files readable by all (binaries keep their execute bits)."""
    root.chmod(0o755)
    for directory, dirnames, filenames in os.walk(root):
        for name in dirnames:
            (Path(directory) / name).chmod(0o755)
        for name in filenames:
            path = Path(directory) / name
            if not path.is_symlink():
                mode = path.stat().st_mode | 0o444
                if mode & stat.S_IXUSR:
                    mode |= 0o111
                path.chmod(mode & ~0o022)


def answers(url: str) -> bool:
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
