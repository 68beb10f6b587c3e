"""Turn pip's install output into one progress line per package: `[12/140] Collecting grpcio`.

pip is either silent (-q) for minutes on a first install, or hundreds of lines of noise;
this keeps what tells a newcomer that something is happening, and every error line.
"""

from __future__ import annotations

import sys
from pathlib import Path

KEEP = ("Collecting ", "Installing collected packages", "Successfully installed")
SKIP = ("Requirement already satisfied", "Using cached", "Downloading", "Obtaining")


def pinned(lock: Path) -> int:
    lines = lock.read_text().splitlines()
    return sum(1 for line in lines if line.strip() and not line.startswith("#"))


def main() -> int:
    total = pinned(Path(sys.argv[1]))
    seen = 0
    for line in sys.stdin:
        text = line.rstrip()
        if text.startswith("Collecting "):
            seen += 1
            name = text.removeprefix("Collecting ").split("==")[0]
            print(f"  [{seen}/{total}] {name}", flush=True)
        elif text.startswith(KEEP[1:]):
            print(f"  {text[:100]}", flush=True)
        elif text and not text.startswith(SKIP) and not text.startswith("  "):
            print(text, flush=True)  # warnings and errors pass through
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
