"""Operator command: re-publish kept outbox events by id or time range.

    python -m keel_runtime.events.replay_cli --since 2026-11-22T10:00Z [--until ...] [--id ...]

``DATABASE_URL`` is the producing service's database and ``NATS_URL`` the broker with the
operator's credentials (or pass ``--database-url`` / ``--nats-url``), a ``tls://`` one with the
operator's certificate (``--cacert``, ``--cert``, ``--key`` or ``TLS_*``). Exit status: 0 done,
1 NATS unreachable (one line on stderr), 2 bad usage.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime

from keel_runtime.db import create_engine
from keel_runtime.events.cli_tls import add_tls_arguments, tls_of
from keel_runtime.events.connection import connect_nats_once, redact_url
from keel_runtime.events.relay import ReplayResult, replay
from keel_runtime.tls import TlsSettings


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
    add_tls_arguments(parser)
    return parser


def _describe(exc: BaseException) -> str:
    return str(exc) or repr(exc)


async def _replay(args: argparse.Namespace, tls: TlsSettings | None) -> int:
    try:
        nc, js = await connect_nats_once(args.nats_url, name="outbox-replay", tls=tls)
    except Exception as exc:
        print(
            f"error: cannot connect to NATS at {redact_url(args.nats_url)}: {_describe(exc)}",
            file=sys.stderr,
        )
        return 1
    engine = create_engine(args.database_url, pool_size=1)
    try:
        result: ReplayResult = await replay(
            engine, js, event_ids=args.ids, since=args.since, until=args.until
        )
    finally:
        with contextlib.suppress(Exception):
            await nc.drain()
        await engine.dispose()
    print(f"republished {result.republished} events ({result.duplicates} dropped as duplicates)")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not args.database_url:
        parser.error("--database-url or DATABASE_URL is required")
    if not (args.ids or args.since or args.until):
        parser.error("give --id, --since or --until")
    return asyncio.run(_replay(args, tls_of(parser, args)))


if __name__ == "__main__":
    sys.exit(main())
