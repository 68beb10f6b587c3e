"""``python -m <service>``: one entry point; migrate needs the database only; bad settings
are one line naming every variable at fault."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import MetaData

from keel_runtime import cli, migrations
from keel_runtime.migrations import Schema
from keel_runtime.server import ServiceSpec
from keel_runtime.service import ServiceConfig, ServiceDefinition

DATABASE_URL = "postgresql://db/keel_things"


class RecordingSchema(Schema):
    """Records the upgrades asked of it instead of running them."""

    def migrate(self, database_url: str, revision: str = "head") -> None:
        upgrades.append(database_url)


upgrades: list[str] = []


async def _never_built(config: ServiceConfig) -> ServiceSpec:
    raise AssertionError("serving was not asked for")


DEFINITION = ServiceDefinition(
    "things", RecordingSchema(Path("migrations"), MetaData()), ServiceConfig.read_env, _never_built
)


@pytest.fixture(autouse=True)
def _quiet(monkeypatch: pytest.MonkeyPatch) -> None:
    upgrades.clear()
    monkeypatch.setattr(cli, "configure_logging", lambda service, level: None)
    for name in ("MIGRATION_DATABASE_URL", "DATA_ENCRYPTION_KEYS", "DATABASE_RUNTIME_ROLE"):
        monkeypatch.delenv(name, raising=False)


def test_migrate_needs_only_the_database(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", DATABASE_URL)
    # What only serving reads, set to values that would not load.
    monkeypatch.setenv("NATS_URL", "http://not-nats")
    monkeypatch.setenv("NATS_STREAM_REPLICAS", "many")
    monkeypatch.delenv("GRPC_BIND", raising=False)
    monkeypatch.setattr(migrations, "check_migration_rights", lambda url, role: None)
    assert cli.main(DEFINITION, ["migrate"]) == 0
    assert upgrades == [DATABASE_URL]


def test_migrate_without_a_database_says_so(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert cli.main(DEFINITION, ["migrate"]) == 2
    assert capsys.readouterr().err.startswith("things: configuration error: DATABASE_URL")
    assert upgrades == []


def test_serve_names_every_variable_at_fault(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("NATS_URL", "http://not-nats")
    monkeypatch.setenv("NATS_STREAM_REPLICAS", "many")
    assert cli.main(DEFINITION, []) == 2
    [line] = capsys.readouterr().err.splitlines()
    for name in ("DATABASE_URL", "NATS_URL", "NATS_STREAM_REPLICAS"):
        assert name in line


@pytest.mark.parametrize("argv", [["serve", "now"], ["upgrade"], ["--help"]])
def test_anything_else_is_a_usage_error(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(DEFINITION, argv) == 2
    assert capsys.readouterr().err.strip() == "usage: python -m things [serve|migrate]"


def test_what_serves_does_not_import_alembic() -> None:
    """Alembic (with Mako, Pygments and its SQL dialects, ~9 MB resident) is for ``migrate``
    only; a fresh interpreter shows what importing the serving side loads."""
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, keel_runtime.cli, keel_runtime.service, keel_runtime.server;"
            " print(' '.join(sorted(sys.modules)))",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    assert [m for m in loaded if m.split(".")[0] in ("alembic", "mako", "pygments")] == []
