"""Render the in-cluster Envoy gateway config (deploy/k8s/base/gateway/envoy.json)."""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from types import ModuleType, SimpleNamespace
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
DESCRIPTOR_SET = ASSET_DIR / "keel.pb"
# How often Envoy re-resolves the headless Services, so new pods get traffic quickly.
DNS_REFRESH = "5s"


def upstream_host(service: str, namespace: str = NAMESPACE) -> str:
    """The headless Service that lists every ready pod of `service` (one A record each)."""
    return f"{service}-pods.{namespace}.svc.cluster.local"


@dataclass(frozen=True)
class _ImageFile:
    """A file that exists in the gateway image, not on this machine.

    gateway/render.py inlines a 503 for static files it cannot find locally; these stand in
    for its Paths so the rendered config names the image's copies whatever was built here.
    """

    path: PurePosixPath

    @property
    def name(self) -> str:
        return self.path.name

    def is_file(self) -> bool:
        return True

    def stat(self) -> SimpleNamespace:
        return SimpleNamespace(st_size=0)

    def __str__(self) -> str:
        return str(self.path)


def _load_renderer() -> ModuleType:
    # A private copy of the module: its STATIC_FILES is rebound below without touching the
    # instance that tests, the devstack or `make run` import.
    spec = importlib.util.spec_from_file_location("keel_gateway_render_k8s", RENDERER)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot load {RENDERER}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def render_config(namespace: str = NAMESPACE) -> dict[str, Any]:
    """gateway/render.py's config, pointed at in-cluster DNS names and image paths."""
    render = _load_renderer()
    vars(render)["STATIC_FILES"] = {
        path: (_ImageFile(ASSET_DIR / source.name), content_type)
        for path, (source, content_type) in render.STATIC_FILES.items()
    }
    hosts = {name: (upstream_host(name, namespace), GRPC_PORT) for name in SERVICES}
    config: dict[str, Any] = render.render_config(
        listen_port=LISTEN_PORT,
        admin_port=ADMIN_PORT,
        clusters=hosts,
        issuer=ISSUER,
        audience=AUDIENCE,
        descriptor_set=Path(DESCRIPTOR_SET),
        listen_host="0.0.0.0",
    )
    for cluster in config["static_resources"]["clusters"]:
        if cluster["name"] in hosts:
            # STATIC clusters take IP addresses only; STRICT_DNS keeps one endpoint per pod,
            # so active health checks and outlier detection see each pod on its own.
            cluster["type"] = "STRICT_DNS"
            cluster["dns_lookup_family"] = "V4_ONLY"
            cluster["dns_refresh_rate"] = DNS_REFRESH
            cluster["respect_dns_ttl"] = True
        elif cluster["name"] == "gateway_self":
            # The JWKS fetch loops back through the listener; 0.0.0.0 is no destination.
            for group in cluster["load_assignment"]["endpoints"]:
                for endpoint in group["lb_endpoints"]:
                    endpoint["endpoint"]["address"]["socket_address"]["address"] = "127.0.0.1"
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
