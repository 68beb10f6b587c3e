"""The pytest plugin's fixtures, seen from a real pytest run in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from keel_devstack.process import group_alive
from keel_devstack.stack import repo_root

INNER = """
import json, os
import psycopg, redis

SEEN = {}

def test_fresh_database(database_url, postgres_url, redis_url, nats_url, unique_name, keel_infra):
    SEEN["db"] = database_url.rsplit("/", 1)[1]
    assert unique_name in SEEN["db"]
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
                            ).fetchone() == (0,)
    assert redis.Redis.from_url(redis_url).ping()
    servers = (keel_infra.postgres, keel_infra.redis, keel_infra.nats)
    with open(os.environ["PIDS_OUT"], "w") as out:
        json.dump([s.process.pid for s in servers], out)

def test_database_dropped_after(postgres_url):
    with psycopg.connect(postgres_url) as conn:
        names = [row[0] for row in conn.execute("SELECT datname FROM pg_database")]
    assert SEEN["db"] not in names
"""


def test_fixtures_in_a_real_session(tmp_path: Path) -> None:
    (tmp_path / "test_inner.py").write_text(textwrap.dedent(INNER))
    pids_out = tmp_path / "pids.json"
    env = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "NATS_URL")
    }
    env["PIDS_OUT"] = str(pids_out)
    root = repo_root()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "-c", str(root / "pyproject.toml"), "--rootdir", str(tmp_path), str(tmp_path)],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 passed" in done.stdout
    pids = json.loads(pids_out.read_text())
    # pytest has exited: every server it started must be gone with it.
    deadline = time.monotonic() + 5
    while any(group_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not any(group_alive(pid) for pid in pids)
