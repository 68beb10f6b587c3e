"""Each embedded server starts, answers a real client, and stops without leftovers."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import nats
import psycopg
import redis

from keel_devstack.envoy import start_envoy
from keel_devstack.nats import start_nats
from keel_devstack.ports import RESERVED, free_port
from keel_devstack.postgres import start_postgres
from keel_devstack.process import group_alive
from keel_devstack.redis import start_redis


def test_postgres_answers_and_stops_cleanly(scratch: Path) -> None:
    server = start_postgres(scratch / "pg")
    assert server.port not in RESERVED
    with psycopg.connect(server.url, autocommit=True) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
        # Backends are children of the postmaster: stopping must take them down too.
        pgid = server.process.pid
        assert pgid is not None
        server.stop()
    assert not group_alive(pgid)


def test_postgres_keeps_data_across_restarts(scratch: Path) -> None:
    server = start_postgres(scratch / "pg", durable=True)
    with psycopg.connect(server.url, autocommit=True) as conn:
        # `make run` keeps a developer's data: a commit is acknowledged once it is on disk.
        for setting in ("fsync", "full_page_writes", "synchronous_commit"):
            assert conn.execute(f"SHOW {setting}").fetchone() == ("on",), setting
        conn.execute("CREATE DATABASE kept")
    server.stop()
    again = start_postgres(scratch / "pg", durable=True)
    try:
        with psycopg.connect(again.url) as conn:
            found = conn.execute("SELECT 1 FROM pg_database WHERE datname = 'kept'").fetchone()
        assert found == (1,)
    finally:
        again.stop()


def test_redis_answers_and_stops_cleanly(scratch: Path) -> None:
    server = start_redis(scratch / "redis")
    client = redis.Redis.from_url(server.url)
    try:
        assert client.ping() is True
        assert client.config_get("save") == {"save": ""}
        assert client.config_get("appendonly") == {"appendonly": "no"}
    finally:
        client.close()
        server.stop()
    assert server.process.pid is not None and not group_alive(server.process.pid)


async def test_nats_has_jetstream_with_always_sync(scratch: Path) -> None:
    server = start_nats(scratch / "nats")
    try:
        nc = await nats.connect(server.operator_url)
        info = await nc.jetstream().account_info()
        await nc.drain()
        assert info.limits is not None  # an account answer means JetStream is on
        config = scratch / "nats" / "nats.conf"
        assert "sync_interval: always" in config.read_text()
        assert config.stat().st_mode & 0o777 == 0o600  # bcrypt hashes: owner only
    finally:
        server.stop()
    assert server.process.pid is not None and not group_alive(server.process.pid)


def test_envoy_ready_and_stops_cleanly(scratch: Path) -> None:
    admin, listen = free_port(), free_port()
    config = scratch / "envoy.json"
    config.write_text(json.dumps(_direct_response_config(admin, listen)))
    envoy = start_envoy(config, admin_port=admin, log_path=scratch / "envoy.log")
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{listen}/", timeout=5) as resp:
            assert resp.read() == b"ok"
    finally:
        envoy.stop()
    assert envoy.process.pid is not None and not group_alive(envoy.process.pid)


def _direct_response_config(admin: int, listen: int) -> dict[str, object]:
    hcm = {
        "@type": "type.googleapis.com/envoy.extensions.filters.network."
        "http_connection_manager.v3.HttpConnectionManager",
        "stat_prefix": "t",
        "route_config": {
            "virtual_hosts": [
                {
                    "name": "all",
                    "domains": ["*"],
                    "routes": [
                        {
                            "match": {"prefix": "/"},
                            "direct_response": {"status": 200, "body": {"inline_string": "ok"}},
                        }
                    ],
                }
            ]
        },
        "http_filters": [
            {
                "name": "envoy.filters.http.router",
                "typed_config": {
                    "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"
                },
            }
        ],
    }
    return {
        "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": admin}}},
        "static_resources": {
            "listeners": [
                {
                    "name": "t",
                    "address": {"socket_address": {"address": "127.0.0.1", "port_value": listen}},
                    "filter_chains": [
                        {
                            "filters": [
                                {
                                    "name": "envoy.filters.network.http_connection_manager",
                                    "typed_config": hcm,
                                }
                            ]
                        }
                    ],
                }
            ]
        },
    }
