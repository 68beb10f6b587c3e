"""`make env`: a running stack's addresses as shell variables the docs' commands use."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from keel_devstack.stack import Endpoints

ENV = f"{sys.executable} -m keel_devstack env"


def _bash(script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", script], capture_output=True, text=True, timeout=30, check=False
    )


def test_eval_exports_every_address(tmp_path: Path) -> None:
    state = tmp_path / "stack.json"
    endpoints = Endpoints(
        services={"identity": "127.0.0.1:50051", "ledger": "127.0.0.1:50052"},
        database_url="postgresql://postgres@127.0.0.1:15432/postgres",
        databases={"ledger": "postgresql://postgres@127.0.0.1:15432/keel_ledger"},
        nats_url="nats://127.0.0.1:14222",
        redis_url="redis://127.0.0.1:16379/0",
        gateway_url="http://127.0.0.1:8081",
        metrics={"ledger": "127.0.0.1:51052"},
        tls={"ca_file": "/v/tls/ca.pem", "operator_cert": "/v/tls/operator.pem",
             "operator_key": "/v/tls/operator-key.pem", "dir": "/v/tls"},
        nats_operator_url="nats://operator:s3cret@127.0.0.1:14222",
        logs={"ledger": "/v/log/ledger.log", "trace-sink": "/v/log/trace-sink.log"},
    )  # fmt: skip
    state.write_text(endpoints.to_json())
    done = _bash(
        f'eval "$({ENV} --state {state})" && '
        'echo "$KEEL_GATEWAY $KEEL_IDENTITY $KEEL_LEDGER $KEEL_LEDGER_METRICS $KEEL_NATS_URL'
        " $KEEL_LEDGER_DATABASE_URL ${NATS_URL:-unset}"
        " $KEEL_CA_FILE $KEEL_OPERATOR_CERT $KEEL_OPERATOR_KEY $KEEL_NATS_OPERATOR_URL"
        ' $KEEL_LEDGER_LOG $KEEL_TRACE_SINK_LOG"'
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [
        "http://127.0.0.1:8081",
        "127.0.0.1:50051",
        "127.0.0.1:50052",
        "http://127.0.0.1:51052/metrics",
        "nats://127.0.0.1:14222",
        "postgresql://postgres@127.0.0.1:15432/keel_ledger",
        "unset",  # never NATS_URL: that would switch the next `make run` to these servers
        "/v/tls/ca.pem",  # buf curl / grpcurl against the services, which require mutual TLS
        "/v/tls/operator.pem",
        "/v/tls/operator-key.pem",
        "nats://operator:s3cret@127.0.0.1:14222",  # the dead-letter and replay commands
        "/v/log/ledger.log",
        "/v/log/trace-sink.log",  # a name with a dash, as a shell variable
    ]


def test_no_running_stack_fails_the_eval(tmp_path: Path) -> None:
    done = _bash(f'eval "$({ENV} --state {tmp_path / "none.json"})" && echo reached')
    assert done.returncode != 0
    assert "reached" not in done.stdout
    assert "make run" in done.stderr
