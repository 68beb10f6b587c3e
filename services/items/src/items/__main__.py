"""`python -m items` serves; `python -m items migrate` upgrades the database and exits."""

from __future__ import annotations

import asyncio
import sys

from items.bootstrap import MIGRATIONS, build
from items.config import ItemsConfig
from items.storage.tables import metadata
from keel_runtime.logging import configure_logging
from keel_runtime.migrations import migrate_command
from keel_runtime.server import serve
from keel_runtime.settings import ServerSettings, env_str, load

USAGE = "usage: python -m items [serve|migrate]"


async def _serve(config: ItemsConfig) -> None:
    settings = load(ServerSettings.from_env)
    await serve(await build(config), settings)


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "serve"
    if command not in ("serve", "migrate") or len(argv) > 1:
        print(USAGE, file=sys.stderr)
        return 2
    if command == "migrate":
        # Migrating needs the database only, not NATS or the rest of the serving configuration.
        configure_logging("items", env_str("LOG_LEVEL", "INFO"))
        return migrate_command("items", MIGRATIONS, metadata)
    config = load(ItemsConfig.from_env)
    configure_logging("items", config.log_level)
    asyncio.run(_serve(config))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
