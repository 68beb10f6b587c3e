"""Under root, the embedded PostgreSQL runs from a checkout no other user can enter.

PostgreSQL refuses to run as root, so it runs as an unprivileged user; a checkout in a
mode-700 directory (/root/keel, a `mktemp -d` folder) hides the wheel's binaries and the
data directory from that user. These tests stand a copy of the wheel's installation and
the data directory inside such a directory, as a private checkout has them.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from keel_devstack import postgres
from keel_devstack.postgres import INSTALL_PARTS, VENDORED_LIBS, reachable, start_postgres
from keel_devstack.stack import repo_root

as_root = pytest.mark.skipif(os.geteuid() != 0, reason="only root runs postgres as another user")


@pytest.fixture
def private_checkout(scratch: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A mode-700 directory holding a copy of the wheel's installation, like .venv in it."""
    checkout = scratch / "private"
    checkout.mkdir(mode=0o700)
    wheel = postgres.wheel_install()
    site = checkout / ".venv" / "site-packages"
    for part in INSTALL_PARTS:
        shutil.copytree(wheel / part, site / "pgserver" / "pginstall" / part, symlinks=True)
    shutil.copytree(wheel.parent.parent / VENDORED_LIBS, site / VENDORED_LIBS)
    install = site / "pgserver" / "pginstall"
    monkeypatch.setattr(postgres, "wheel_install", lambda: install)
    monkeypatch.setenv("KEEL_PG_CACHE", str(scratch / "cache"))
    yield checkout


@as_root
def test_the_server_user_cannot_enter_a_private_directory(private_checkout: Path) -> None:
    user = postgres._server_user()
    assert user is not None
    assert not reachable(private_checkout / ".venv" / "site-packages", user)
    assert reachable(Path(shutil.which("sh") or "/bin/sh").parent, user)


@as_root
def test_postgres_starts_from_a_private_checkout_and_keeps_its_data(
    private_checkout: Path, scratch: Path
) -> None:
    server = start_postgres(private_checkout / "var" / "postgres", durable=True)
    try:
        assert server.relocated
        with psycopg.connect(server.url, autocommit=True) as conn:
            conn.execute("CREATE DATABASE kept")
    finally:
        server.stop()

    cache = scratch / "cache" / f"keel-postgres-{os.geteuid()}"
    # The data: owned by the server user, closed to everyone else.
    home = server.cluster.parent
    assert home.parent == cache / "data"
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert stat.S_IMODE(server.cluster.stat().st_mode) == 0o700
    assert home.stat().st_uid != os.geteuid()
    # The binaries: one copy per version, writable by its owner only.
    (copy,) = cache.glob("install-*")
    for path in [cache, copy, *copy.rglob("*")]:
        if not path.is_symlink():
            assert not path.stat().st_mode & (stat.S_IWGRP | stat.S_IWOTH), path
    marker = copy / "pgserver" / "pginstall" / "bin" / "postgres"
    made = marker.stat().st_mtime_ns

    again = start_postgres(private_checkout / "var" / "postgres", durable=True)
    try:
        assert again.cluster == server.cluster
        with psycopg.connect(again.url) as conn:
            found = conn.execute("SELECT 1 FROM pg_database WHERE datname = 'kept'").fetchone()
        assert found == (1,)
        assert list(cache.glob("install-*")) == [copy]
        assert marker.stat().st_mtime_ns == made  # reused, not copied again
    finally:
        again.stop()


@as_root
def test_a_cache_others_can_write_is_refused(private_checkout: Path, scratch: Path) -> None:
    cache = scratch / "cache" / f"keel-postgres-{os.geteuid()}"
    cache.mkdir(parents=True)
    cache.chmod(0o777)
    with pytest.raises(postgres.StartError, match="writable by nobody else"):
        start_postgres(private_checkout / "var" / "postgres")


INNER = """
def test_one(postgres_url):
    pass

def test_two(postgres_url):
    pass
"""

CONFTEST = """
from pathlib import Path
from keel_devstack import postgres

postgres.wheel_install = lambda: Path(__file__).parent / "no-such-install"
"""


def test_make_test_stops_at_once_when_postgres_cannot_start(tmp_path: Path) -> None:
    (tmp_path / "test_inner.py").write_text(textwrap.dedent(INNER))
    (tmp_path / "conftest.py").write_text(textwrap.dedent(CONFTEST))
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    root = repo_root()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "-c", str(root / "pyproject.toml"), "--rootdir", str(tmp_path), str(tmp_path)],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    output = done.stdout + done.stderr
    assert done.returncode == 3, output
    assert output.count("embedded PostgreSQL could not start: no PostgreSQL server in") == 1, output
    assert "error" not in output.lower().replace("could not start", ""), output
