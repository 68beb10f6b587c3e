"""Operator command: list the revoked sessions, users and API keys the services refuse.

    python -m keel_runtime.events.revocations_cli list [--kind session|api_key|user]

Reads the ``REVOCATIONS`` bucket, which every service watches into its deny set; nothing is
changed. ``NATS_URL`` is the broker with credentials allowed to watch it (the operator's, or
any service's), better in the environment than in ``--nats-url``, which ``ps`` shows; a
``tls://`` one with a certificate (``--cacert``, ``--cert``, ``--key`` or ``TLS_*``). Exit
status: 0 done, 1 something failed, 2 bad usage.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime

from nats.js.errors import BucketNotFoundError

from keel_runtime.events.cli_tls import add_tls_arguments, tls_of
from keel_runtime.events.connection import connect_nats_once, redact_url
from keel_runtime.events.revocation_bucket import read_all, stream_name
from keel_runtime.revocation import BUCKET, KINDS

COLUMNS = ("REVOKED_AT", "KIND", "ID", "FORGOTTEN_IN")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m keel_runtime.events.revocations_cli",
        description="List what the services refuse before it expires (bucket REVOCATIONS).",
    )
    parser.add_argument("--nats-url", default=os.environ.get("NATS_URL", "nats://127.0.0.1:4222"))
    parser.add_argument("--bucket", default=BUCKET, help=argparse.SUPPRESS)
    add_tls_arguments(parser)
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="print the current entries, oldest first")
    listing.add_argument("--kind", choices=KINDS, help="only this kind")
    return parser


def _time(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def run(argv: Sequence[str] | None = None) -> int:
    """The command in a running event loop; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        nc, js = await connect_nats_once(
            args.nats_url, name="revocations", tls=tls_of(parser, args)
        )
    except Exception as exc:
        print(
            f"error: cannot connect to NATS at {redact_url(args.nats_url)}: {exc!r}",
            file=sys.stderr,
        )
        return 1
    try:
        try:
            entries = await read_all(js, args.bucket)
            horizon = (await js.stream_info(stream_name(args.bucket))).config.max_age or 0.0
        except BucketNotFoundError:
            print(f"no bucket {args.bucket}: nothing was ever revoked")
            return 0
        now = time.time()
        shown = [e for e in entries if args.kind in (None, e.kind)]
        print("\t".join(COLUMNS))
        for entry in shown:
            left = max(0, round(entry.revoked_at + horizon - now))
            print(f"{_time(entry.revoked_at)}\t{entry.kind}\t{entry.identifier}\t{left}s")
        print(f"{len(shown)} revoked; each is forgotten {horizon:.0f}s after its revocation")
        return 0
    except Exception as exc:  # broker errors, timeouts: one line, not a traceback
        print(f"error: {exc!r}", file=sys.stderr)
        return 1
    finally:
        with contextlib.suppress(Exception):
            await nc.drain()


def main(argv: Sequence[str] | None = None) -> int:
    return asyncio.run(run(argv))


if __name__ == "__main__":
    sys.exit(main())
