"""The fault suite: `make faults` runs every case; `make test` only those marked `quick`.

Each module starts infrastructure of its own (its own EmbeddedInfra, durable like `make run`),
so killing PostgreSQL or NATS here never disturbs another test. At the end the cases' figures
are printed as a table and written to var/faults/latest.json.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from keel_devstack.embedded import EmbeddedInfra
from keel_devstack.progress import Progress
from keel_devstack.stack import Stack, repo_root

# The tests import their shared code (faults_support) as a plain module.
HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from faults_support import RESULTS, table, write_report  # noqa: E402

REPORT = repo_root() / "var" / "faults" / "latest.json"


def _all_cases() -> bool:
    return os.environ.get("KEEL_FAULTS") == "1"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Outside `make faults`, only the quick cases of this directory run.
    if _all_cases():
        return
    here = Path(HERE)
    keep, drop = [], []
    for item in items:
        inside = here in Path(str(item.path)).parents
        (drop if inside and item.get_closest_marker("quick") is None else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not RESULTS:
        return
    terminalreporter.section("fault cases")
    terminalreporter.write_line(table(RESULTS))
    if _all_cases():
        write_report(REPORT, RESULTS)
        terminalreporter.write_line(f"written to {REPORT}")


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    """The whole mesh as `make run` starts it (durable PostgreSQL, supervised servers), on
    infrastructure of the module's own."""
    root = Path(tempfile.mkdtemp(prefix="keel-faults-"))
    root.chmod(0o755)
    infra = EmbeddedInfra(root / "infra", durable=True, log_dir=root / "log", tls=True)
    stack = Stack(
        root,
        infra=infra,
        preferred_ports=False,
        progress=Progress(sys.stderr, prefix="[faults] "),
        # Cheap password hashing: the load is about events, not argon2.
        env_overrides={"ARGON2_TIME_COST": "1", "ARGON2_MEMORY_KIB": "1024", "LOG_LEVEL": "INFO"},
    )
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()
        infra.close()
        if os.environ.get("KEEL_KEEP_LOGS"):
            print(f"[faults] logs kept in {root / 'log'}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)
