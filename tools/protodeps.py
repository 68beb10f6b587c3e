"""Write third-party protos from installed packages into build/protodeps (never committed)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

import google.api
import google.rpc
import grpc_tools
from google.protobuf import descriptor_pb2

import protoprint

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "build" / "protodeps"
VALIDATE_PROTO = "buf/validate/validate.proto"
GRPC_TOOLS_INCLUDE = Path(grpc_tools.__file__).parent / "_proto"


def validate_descriptor() -> descriptor_pb2.FileDescriptorProto:
    """The buf/validate/validate.proto descriptor carried by the installed protovalidate."""
    from protovalidate._gen.buf.validate import validate_pb  # private, but the only copy

    data: bytes = validate_pb._DESC.proto.to_binary()
    return descriptor_pb2.FileDescriptorProto.FromString(data)


def write_if_changed(path: Path, data: bytes) -> bool:
    """Write only on change, so mtimes (and make/editors) see untouched files as untouched."""
    if path.is_file() and path.read_bytes() == data:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return True


def sync_tree(src: Path, dst: Path) -> int:
    """Make dst mirror src (files written only on change, extras removed); returns changes."""
    changes = 0
    wanted = {p.relative_to(src) for p in src.rglob("*") if p.is_file()}
    for rel in sorted(wanted):
        changes += write_if_changed(dst / rel, (src / rel).read_bytes())
    if dst.is_dir():
        for path in sorted(dst.rglob("*"), reverse=True):
            rel = path.relative_to(dst)
            if "__pycache__" in rel.parts:
                continue  # bytecode caches are the interpreter's business
            if path.is_file() and rel not in wanted:
                path.unlink()
                changes += 1
            elif path.is_dir() and {p.name for p in path.iterdir()} <= {"__pycache__"}:
                # A removed package: drop it whole, or its bytecode would keep it importable.
                shutil.rmtree(path)
    return changes


def protoc(*args: str) -> None:
    """Run the grpc_tools protoc in this interpreter; raise with its output on failure."""
    cmd = [sys.executable, "-m", "grpc_tools.protoc", f"-I{GRPC_TOOLS_INCLUDE}", *args]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"protoc failed:\n{result.stderr or result.stdout}")


def buf_binary() -> str:
    """The buf CLI installed next to this interpreter (buf-bin), else the one on PATH."""
    local = Path(sys.executable).parent / "buf"
    found = str(local) if local.is_file() else shutil.which("buf")
    if found is None:
        raise SystemExit("buf not found: run `make install`")
    return found


def stage_googleapis(stage: Path) -> None:
    for package in (google.api, google.rpc):
        source = Path(next(iter(package.__path__)))
        target = stage / "google" / source.name
        target.mkdir(parents=True)
        for proto in sorted(source.glob("*.proto")):
            shutil.copyfile(proto, target / proto.name)


def install_validate_pb2(proto_root: Path) -> Path:
    """Generate buf/validate/validate_pb2.py(+.pyi) and install it into site-packages.

    Generated keel modules import `buf.validate.validate_pb2`; protovalidate 2.x only ships
    its own runtime's module, so the google.protobuf flavour is built here from the same
    descriptor. `buf` stays a namespace package (no __init__.py) to coexist with others.
    """
    site = Path(sysconfig.get_paths()["purelib"])
    with tempfile.TemporaryDirectory() as tmp:
        protoc(f"-I{proto_root}", f"--python_out={tmp}", f"--pyi_out={tmp}", VALIDATE_PROTO)
        for name in ("validate_pb2.py", "validate_pb2.pyi"):
            generated = Path(tmp) / "buf" / "validate" / name
            write_if_changed(site / "buf" / "validate" / name, generated.read_bytes())
    return site / "buf" / "validate" / "validate_pb2.py"


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        stage = Path(tmp)
        stage_googleapis(stage)
        validate = stage / VALIDATE_PROTO
        validate.parent.mkdir(parents=True)
        validate.write_text(protoprint.print_file(validate_descriptor()))
        # Formatted like our own protos so a plain `buf format -d --exit-code` at the root,
        # which also walks this module, stays quiet; formatting never changes meaning.
        subprocess.run([buf_binary(), "format", "-w", str(stage)], check=True)
        changes = sync_tree(stage, OUT)
    count = sum(1 for _ in OUT.rglob("*.proto"))
    print(f"protodeps: {count} third-party protos in {OUT.relative_to(ROOT)} ({changes} changed)")
    installed = install_validate_pb2(OUT)
    print(f"protodeps: buf.validate.validate_pb2 installed at {installed}")


if __name__ == "__main__":
    main()
