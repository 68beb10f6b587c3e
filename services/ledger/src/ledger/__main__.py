"""`python -m ledger` serves; `python -m ledger migrate` upgrades the database and exits."""

from __future__ import annotations

import asyncio
import sys

from keel_runtime.logging import configure_logging
from keel_runtime.migrations import migrate_command
from keel_runtime.server import serve
from keel_runtime.settings import ServerSettings, env_str, load
from ledger.bootstrap import build
from ledger.config import Config
from ledger.storage.migrate import MIGRATIONS_DIR, RUNTIME_GRANTS
from ledger.storage.tables import metadata

USAGE = "usage: python -m ledger [serve|migrate]"


async def _serve(config: Config, settings: ServerSettings) -> None:
    await serve(await build(config), settings)


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "serve"
    if command not in ("serve", "migrate") or len(argv) > 1:
        print(USAGE, file=sys.stderr)
        return 2
    configure_logging("ledger", env_str("LOG_LEVEL", "INFO"))
    if command == "migrate":
        # Migrating needs the database only, not the rest of the serving configuration.
        return migrate_command("ledger", MIGRATIONS_DIR, metadata, RUNTIME_GRANTS)
    config = load(Config.from_env)
    settings = load(ServerSettings.from_env)
    asyncio.run(_serve(config, settings))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
