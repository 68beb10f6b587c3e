"""`buf breaking` of protos/ against the base breaking_base chooses (what `make breaking` runs)."""

from __future__ import annotations

import argparse
import io
import subprocess
import tarfile
import tempfile
from pathlib import Path

import breaking_base
import protodeps

ROOT = protodeps.ROOT
# Same rule set as buf.yaml, given explicitly because images carry no configuration.
BREAKING_CONFIG = '{"version":"v2","breaking":{"use":["FILE"]}}'


def git(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, check=False)


def export_protos(ref: str, dest: Path) -> int:
    """Extract protos/ as of `ref` into dest; returns how many .proto files it holds."""
    archive = git("archive", "--format=tar", ref, "--", "protos")
    if archive.returncode != 0:
        return 0  # the path does not exist at that commit
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(dest, filter="data")
    return sum(1 for _ in (dest / "protos").rglob("*.proto"))


def build_image(workspace: Path, image: Path) -> None:
    """Image of the protos module only; third-party imports resolve via build/protodeps."""
    cmd = [protodeps.buf_binary(), "build", "protos", "-o", str(image)]
    subprocess.run(cmd, cwd=workspace, check=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--against", default="", help="git ref to compare with (default: see breaking_base)"
    )
    against = parser.parse_args().against
    if against:
        commit = breaking_base.Git(ROOT).commit(against)
        base = breaking_base.Base(commit, f"--against {against}" if commit else f"no {against}")
    else:
        base = breaking_base.choose(breaking_base.Git(ROOT))
    if base.commit is None:
        print(f"breaking: nothing to compare against ({base.reason}); passing")
        return 0
    ref = base.commit
    print(f"breaking: base {ref[:12]}, {base.reason}")
    protodeps.main()  # both sides import third-party protos from build/protodeps
    with tempfile.TemporaryDirectory() as tmp:
        before = Path(tmp) / "before"
        count = export_protos(ref, before)
        if count == 0:
            print(f"breaking: no protos at {ref[:12]}; nothing to compare against")
            return 0
        # The old tree is checked against today's module layout and third-party protos.
        (before / "buf.yaml").write_bytes((ROOT / "buf.yaml").read_bytes())
        (before / "build").mkdir()
        (before / "build" / "protodeps").symlink_to(protodeps.OUT, target_is_directory=True)
        build_image(before, Path(tmp) / "before.binpb")
        build_image(ROOT, Path(tmp) / "after.binpb")
        print(f"breaking: comparing protos/ with {ref[:12]} ({count} protos there), rules FILE")
        result = subprocess.run(
            [
                protodeps.buf_binary(),
                "breaking",
                str(Path(tmp) / "after.binpb"),
                "--against",
                str(Path(tmp) / "before.binpb"),
                "--config",
                BREAKING_CONFIG,
                "--exclude-imports",  # third-party and well-known files are not ours to judge
            ],
            cwd=ROOT,
            check=False,
        )
    print("breaking: ok" if result.returncode == 0 else "breaking: incompatible changes above")
    return result.returncode


if __name__ == "__main__":
    raise SystemExit(main())
