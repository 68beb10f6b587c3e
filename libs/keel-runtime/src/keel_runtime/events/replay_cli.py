"""Operator command: re-publish kept outbox events by id or time range.

    python -m keel_runtime.events.replay_cli --since 2026-11-22T10:00Z [--until ...] [--id ...]

``DATABASE_URL`` is the producing service's database and ``NATS_URL`` the broker (or pass
``--database-url`` / ``--nats-url``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime

from keel_runtime.db import create_engine
from keel_runtime.events.connection import connect_nats
from keel_runtime.events.relay import ReplayResult, replay


def _timestamp(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m keel_runtime.events.replay_cli",
        description="Re-publish outbox events; JetStream drops those inside its duplicate window.",
    )
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    parser.add_argument("--nats-url", default=os.environ.get("NATS_URL", "nats://127.0.0.1:4222"))
    parser.add_argument("--id", dest="ids", action="append", help="event id (repeatable)")
    parser.add_argument("--since", type=_timestamp, help="created at or after (ISO 8601)")
    parser.add_argument("--until", type=_timestamp, help="created before (ISO 8601)")
    return parser


async def _replay(args: argparse.Namespace) -> ReplayResult:
    engine = create_engine(args.database_url, pool_size=1)
    nc, js = await connect_nats(args.nats_url, name="outbox-replay")
    try:
        return await replay(engine, js, event_ids=args.ids, since=args.since, until=args.until)
    finally:
        await nc.drain()
        await engine.dispose()


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not args.database_url:
        parser.error("--database-url or DATABASE_URL is required")
    if not (args.ids or args.since or args.until):
        parser.error("give --id, --since or --until")
    result = asyncio.run(_replay(args))
    print(f"republished {result.republished} events ({result.duplicates} dropped as duplicates)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
