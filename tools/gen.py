"""Regenerate libs/keel-proto, gateway/build/keel.pb and openapi.json from protos/ (`make gen`)."""

from __future__ import annotations

import importlib
import tempfile
import time
from pathlib import Path

import protodeps

ROOT = protodeps.ROOT
PROTOS = ROOT / "protos"
PACKAGE_ROOT = ROOT / "libs" / "keel-proto"
GATEWAY_SET = ROOT / "gateway" / "build" / "keel.pb"
# Envoy's transcoder can only render google.rpc.Status details it has descriptors for;
# without these two the REST body of an error carrying details comes out empty.
GATEWAY_EXTRAS = ("google/rpc/status.proto", "google/rpc/error_details.proto")


def proto_files() -> list[str]:
    """Every .proto under protos/, relative to it, in a stable order."""
    return sorted(p.relative_to(PROTOS).as_posix() for p in PROTOS.rglob("*.proto"))


def add_package_markers(tree: Path) -> None:
    """Empty __init__.py in every generated directory so `keel.<svc>.v1` imports plainly."""
    for directory in [tree, *(p for p in tree.rglob("*") if p.is_dir())]:
        (directory / "__init__.py").touch()


def main() -> None:
    started = time.monotonic()
    protodeps.main()
    # openapi reads protovalidate rules through buf.validate.validate_pb2, which the
    # protodeps step has only just installed on a fresh machine.
    importlib.invalidate_caches()
    import openapi

    files = proto_files()
    if not files:
        raise SystemExit("gen: no .proto files under protos/")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        descriptor_set = out / "keel.pb"
        protodeps.protoc(
            f"-I{PROTOS}",
            f"-I{protodeps.OUT}",
            f"--python_out={out}",
            f"--pyi_out={out}",
            f"--grpc_python_out={out}",
            f"--descriptor_set_out={descriptor_set}",
            "--include_imports",
            "--include_source_info",  # comments feed the OpenAPI document
            *files,
            *GATEWAY_EXTRAS,
        )
        print(f"gen: protoc compiled {len(files)} protos")
        generated = out / "keel"
        add_package_markers(generated)
        changes = protodeps.sync_tree(generated, PACKAGE_ROOT / "keel")
        print(f"gen: {PACKAGE_ROOT.relative_to(ROOT)}/keel up to date ({changes} files changed)")
        protodeps.write_if_changed(GATEWAY_SET, descriptor_set.read_bytes())
        print(f"gen: descriptor set {GATEWAY_SET.relative_to(ROOT)} (with imports)")
    document = openapi.write(GATEWAY_SET, openapi.OUT)
    operations = sum(len(item) for item in document["paths"].values())
    print(f"gen: OpenAPI {openapi.OUT.relative_to(ROOT)} ({operations} operations)")
    print(f"gen: done in {time.monotonic() - started:.1f}s")


if __name__ == "__main__":
    main()
