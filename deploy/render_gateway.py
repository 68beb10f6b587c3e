"""Render the in-cluster Envoy gateway config (deploy/k8s/base/gateway/envoy.json)."""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path, PurePosixPath
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RENDERER = ROOT / "gateway" / "render.py"
OUT = ROOT / "deploy" / "k8s" / "base" / "gateway" / "envoy.json"

NAMESPACE = "keel"
SERVICES = ("identity", "ledger", "items", "billing")
GRPC_PORT = 50051
LISTEN_PORT = 8080
ADMIN_PORT = 9901
# Must match JWT_ISSUER / JWT_AUDIENCE in the services' Deployments (the tests compare them).
ISSUER = "keel-identity"
AUDIENCE = "keel"
# The descriptor set, OpenAPI document and docs page are baked into the gateway image
# (deploy/images/gateway.Dockerfile): they belong to one build of the protos, like the
# service images, and the descriptor set alone is too close to a ConfigMap's 1 MiB cap.
ASSET_DIR = PurePosixPath("/etc/keel/gateway")
# How often Envoy re-resolves the headless Services, so new pods get traffic quickly.
DNS_REFRESH = "5s"
# The gateway's workload certificate (cert-manager Secret keel-gateway-tls, mounted by
# gateway.yaml): Envoy calls every service over mutual TLS with it.
TLS_DIR = PurePosixPath("/etc/keel/tls")
# Envoy's spans go by OTLP/gRPC to the OpenTelemetry collector the services export to when
# their OTEL_EXPORTER_OTLP_ENDPOINT is set (deploy/README.md): an assumed Service
# `otel-collector` in the namespace `monitoring`. Without one, Envoy drops its spans.
OTLP_COLLECTOR = ("otel-collector.monitoring.svc.cluster.local", 4317)
# The share of requests (without a caller's own decision) whose trace is recorded: the
# gateway decides for the whole mesh, as the services sample by parent.
TRACE_SAMPLING_PERCENT = 10.0


def upstream_host(service: str, namespace: str = NAMESPACE) -> str:
    """The headless Service that lists every ready pod of `service` (one A record each)."""
    return f"{service}-pods.{namespace}.svc.cluster.local"


def _load_renderer() -> ModuleType:
    # gateway/ is not a package: load its renderer by path.
    spec = importlib.util.spec_from_file_location("keel_gateway_render", RENDERER)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot load {RENDERER}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def render_config(namespace: str = NAMESPACE) -> dict[str, Any]:
    """gateway/render.py's config, pointed at in-cluster DNS names and image paths."""
    renderer = _load_renderer()
    config: dict[str, Any] = renderer.render_config(
        listen_port=LISTEN_PORT,
        admin_port=ADMIN_PORT,
        clusters={name: (upstream_host(name, namespace), GRPC_PORT) for name in SERVICES},
        issuer=ISSUER,
        audience=AUDIENCE,
        listen_host="0.0.0.0",
        # The JWKS fetch loops back through the listener; 0.0.0.0 is no destination.
        self_host="127.0.0.1",
        files_dir=ASSET_DIR,
        # STRICT_DNS keeps one endpoint per pod, so active health checks and outlier
        # detection see each pod on its own.
        cluster_type="STRICT_DNS",
        dns_refresh_rate=DNS_REFRESH,
        upstream_tls=renderer.UpstreamTls(
            cert=str(TLS_DIR / "tls.crt"), key=str(TLS_DIR / "tls.key"), ca=str(TLS_DIR / "ca.crt")
        ),
        tracing=renderer.Tracing(
            *OTLP_COLLECTOR, sampling_percent=TRACE_SAMPLING_PERCENT, cluster_type="STRICT_DNS"
        ),
    )
    return config


def render_text(namespace: str = NAMESPACE) -> str:
    """The file content, byte for byte as committed."""
    return json.dumps(render_config(namespace), indent=2) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if the file differs from a fresh render"
    )
    args = parser.parse_args(argv)
    text = render_text()
    if args.check:
        current = args.out.read_text() if args.out.is_file() else ""
        if current != text:
            print(f"{args.out} is stale: run `python deploy/render_gateway.py`", file=sys.stderr)
            return 1
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
