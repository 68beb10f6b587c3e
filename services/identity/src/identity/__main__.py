"""``python -m identity`` serves; ``python -m identity migrate`` migrates its database."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from identity.bootstrap import SERVICE, build
from identity.config import IdentityConfig
from identity.storage.tables import metadata
from keel_runtime.logging import configure_logging
from keel_runtime.migrations import migrate_command
from keel_runtime.server import serve
from keel_runtime.settings import ServerSettings, SettingsError, env_str, load

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


async def _serve(config: IdentityConfig, settings: ServerSettings) -> None:
    await serve(await build(config), settings)


def main(argv: list[str]) -> int:
    try:
        if argv[:1] == ["migrate"]:
            # Migrating needs the database only, not the rest of the serving configuration.
            configure_logging(SERVICE, env_str("LOG_LEVEL", "INFO"))
            return migrate_command(SERVICE, MIGRATIONS, metadata)
        config = load(IdentityConfig.from_env)
        if argv:
            print(f"usage: python -m {SERVICE} [migrate]", file=sys.stderr)
            return 2
        settings = load(ServerSettings.from_env)
    except SettingsError as exc:
        print(f"{SERVICE}: configuration error: {exc}", file=sys.stderr)
        return 2
    configure_logging(SERVICE, config.log_level)
    asyncio.run(_serve(config, settings))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
