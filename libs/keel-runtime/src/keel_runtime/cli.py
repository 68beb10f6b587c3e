"""``python -m <service> [serve|migrate]``: one entry point for every Keel service.

``serve`` (the default) reads the service's settings and the server's, configures logging
and serves until SIGTERM; ``migrate`` needs only the database (``DATABASE_URL``, and
``MIGRATION_DATABASE_URL`` for the owner role) and exits. A configuration problem is one
line on stderr naming every variable at fault, and exit status 2.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence

from keel_runtime.logging import configure_logging
from keel_runtime.migrations import migrate_command
from keel_runtime.server import serve
from keel_runtime.service import C, ServiceDefinition
from keel_runtime.settings import ServerSettings, SettingsError, env_str, load

COMMANDS = ("serve", "migrate")


def main(definition: ServiceDefinition[C], argv: Sequence[str] | None = None) -> int:
    """Run ``argv`` (default: the process's arguments) for ``definition``; the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    name = definition.name
    command = args[0] if args else "serve"
    if command not in COMMANDS or len(args) > 1:
        print(f"usage: python -m {name} [{'|'.join(COMMANDS)}]", file=sys.stderr)
        return 2
    try:
        if command == "migrate":
            configure_logging(name, env_str("LOG_LEVEL", "INFO"))
            return migrate_command(name, definition.schema)
        config = load(definition.config)
        settings = load(ServerSettings.from_env)
    except SettingsError as exc:
        print(f"{name}: configuration error: {exc}", file=sys.stderr)
        return 2
    configure_logging(name, config.log_level)
    asyncio.run(_serve(definition, config, settings))
    return 0


async def _serve(definition: ServiceDefinition[C], config: C, settings: ServerSettings) -> None:
    await serve(await definition.build(config), settings)
