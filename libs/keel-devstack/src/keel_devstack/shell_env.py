"""`python -m keel_devstack env`: a running stack's addresses as shell variables.

Ports move when the preferred ones are taken (another checkout's stack, a machine service),
so commands in the docs read them from here instead of hard-coding 8080 or 50051:

    eval "$(make -s env)"
    curl -s "$KEEL_GATEWAY/.well-known/jwks.json"

Variables are KEEL_-prefixed on purpose: exporting NATS_URL or DATABASE_URL would switch
the next `make run` in the same shell to that (this) stack's servers.
"""

from __future__ import annotations

import json
import os
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from keel_devstack.stack import repo_root


def default_state_path() -> Path:
    return Path(os.environ.get("KEEL_STACK_STATE") or repo_root() / "var/run/stack.json")


def read_state(path: Path) -> Mapping[str, Any]:
    """var/run/stack.json as `make run` writes it; FileNotFoundError with a hint if absent."""
    if not path.exists():
        raise FileNotFoundError(
            f"{path} not found: start the mesh with `make run` in another terminal first"
        )
    state = json.loads(path.read_text())
    if not isinstance(state, dict):
        raise ValueError(f"{path} does not hold a stack description")
    return state


def variables(state: Mapping[str, Any]) -> dict[str, str]:
    """KEEL_GATEWAY, KEEL_<SERVICE> (host:port), KEEL_<SERVICE>_{METRICS,LOG,DATABASE_URL},
    KEEL_CA_FILE, KEEL_OPERATOR_CERT, KEEL_OPERATOR_KEY, KEEL_TRACES_DIR..."""
    found = {
        "KEEL_GATEWAY": state.get("gateway_url") or "",
        "KEEL_ENVOY_ADMIN": state.get("envoy_admin_url") or "",
        "KEEL_NATS_URL": state.get("nats_url", ""),
        # With the operator's credentials: for the replay and dead-letter commands.
        "KEEL_NATS_OPERATOR_URL": state.get("nats_operator_url", ""),
        "KEEL_REDIS_URL": state.get("redis_url", ""),
        "KEEL_DATABASE_URL": state.get("database_url", ""),
        # Every service requires mutual TLS: the operator's tools present this certificate.
        "KEEL_CA_FILE": state.get("tls", {}).get("ca_file", ""),
        "KEEL_OPERATOR_CERT": state.get("tls", {}).get("operator_cert", ""),
        "KEEL_OPERATOR_KEY": state.get("tls", {}).get("operator_key", ""),
        # Where `python -m keel_runtime.traces` finds the services' spans.
        "KEEL_TRACES_DIR": state.get("traces", ""),
    }
    for name, target in sorted(state.get("services", {}).items()):
        found[f"KEEL_{name.upper()}"] = target
    for name, target in sorted(state.get("metrics", {}).items()):
        found[f"KEEL_{name.upper()}_METRICS"] = f"http://{target}/metrics"
    for name, url in sorted(state.get("databases", {}).items()):
        found[f"KEEL_{name.upper()}_DATABASE_URL"] = url
    for name, path in sorted(state.get("logs", {}).items()):
        found[f"KEEL_{_identifier(name)}_LOG"] = path
    return {key: value for key, value in found.items() if value}


def _identifier(name: str) -> str:
    """A component's name as part of a shell variable: `trace-sink` -> TRACE_SINK."""
    return name.upper().replace("-", "_")


def render(values: Mapping[str, str]) -> str:
    return "".join(f"export {key}={shlex.quote(value)}\n" for key, value in values.items())
