"""Find the gateway builder's config renderer (gateway/render.py) and the first curl to try."""

from __future__ import annotations

import importlib.util
import inspect
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from keel_devstack.certs import WorkloadFiles

# Shown after start when gateway/render.py defines no FIRST_CURL; {gateway} is the base URL.
DEFAULT_FIRST_CURL = "curl -s {gateway}/.well-known/jwks.json"


def load_renderer(repo_root: Path) -> ModuleType | None:
    """gateway/render.py as a module, or None if it does not exist (yet)."""
    path = repo_root / "gateway" / "render.py"
    if not path.exists():
        return None
    spec = importlib.util.spec_from_file_location("keel_gateway_render", path)
    if spec is None or spec.loader is None:
        return None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def render(
    module: ModuleType,
    out_path: Path,
    *,
    listen_port: int,
    admin_port: int,
    clusters: Mapping[str, tuple[str, int]],
    issuer: str,
    audience: str,
    tls: WorkloadFiles | None = None,
    options: Mapping[str, Any] | None = None,
) -> Path:
    """Call the renderer, passing issuer/audience/TLS files and `options` only if it takes
    them."""
    tls_files = (
        {"tls_cert": str(tls.cert_file), "tls_key": str(tls.key_file), "tls_ca": str(tls.ca_file)}
        if tls is not None
        else {}
    )
    offered = {"issuer": issuer, "audience": audience, **tls_files, **(options or {})}
    extra = {key: value for key, value in offered.items() if accepts(module, key)}
    module.render(
        out_path, listen_port=listen_port, admin_port=admin_port, clusters=clusters, **extra
    )
    return out_path


def accepts(module: ModuleType, option: str) -> bool:
    """Whether the renderer's render() takes `option`."""
    return option in inspect.signature(module.render).parameters


def first_curl(module: ModuleType | None, gateway_url: str) -> str:
    template = getattr(module, "FIRST_CURL", DEFAULT_FIRST_CURL)
    return str(template).format(gateway=gateway_url)


def descriptor_set(module: ModuleType) -> Path | None:
    path = getattr(module, "DESCRIPTOR_SET", None)
    return Path(path) if path is not None else None
