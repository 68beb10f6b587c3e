"""`python -m billing` serves; `python -m billing migrate` upgrades the database and exits."""

from __future__ import annotations

import asyncio
import sys

from billing.config import Config


def main(argv: list[str]) -> int:
    from keel_runtime.logging import configure_logging
    from keel_runtime.settings import env_str

    if argv[1:2] == ["migrate"]:
        from billing.storage.migrate import MIGRATIONS
        from billing.storage.tables import metadata
        from keel_runtime.migrations import migrate_command

        configure_logging("billing", env_str("LOG_LEVEL", "INFO"))
        return migrate_command("billing", MIGRATIONS, metadata)
    if argv[1:]:
        print("usage: python -m billing [migrate]", file=sys.stderr)
        return 2
    config = Config.from_env()
    configure_logging("billing", config.log_level)
    asyncio.run(_serve(config))
    return 0


async def _serve(config: Config) -> None:
    from billing import bootstrap
    from keel_runtime.server import serve

    await serve(await bootstrap.build(config), config.server)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
