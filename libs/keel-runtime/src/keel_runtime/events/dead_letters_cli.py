"""Operator command: list dead-lettered events and redeliver them to their original subject.

    python -m keel_runtime.events.dead_letters_cli list [--consumer NAME] [--limit N]
    python -m keel_runtime.events.dead_letters_cli redeliver (--seq N ... | --consumer NAME | --all)
        [--dry-run]

``NATS_URL`` is the broker with the operator's credentials (``tls://operator:<pw>@host:port``;
better in the environment than in ``--nats-url``, which ``ps`` shows); a ``tls://`` broker
also takes the operator's certificate (``--cacert``, ``--cert``, ``--key``, as curl's, or
``TLS_CA_FILE``, ``TLS_CERT_FILE``, ``TLS_KEY_FILE``). Exit status: 0 done,
1 something failed (each failure printed to stderr), 2 bad usage.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
from collections.abc import Sequence

from nats.js import JetStreamContext

from keel_runtime.events.cli_tls import add_tls_arguments, tls_of
from keel_runtime.events.connection import connect_nats_once, redact_url
from keel_runtime.events.dead_letters import (
    DeadLetter,
    DeadLetterError,
    get_dead_letter,
    list_dead_letters,
    redeliver,
    subject_of,
)

COLUMNS = (
    "SEQ",
    "TIME",
    "CONSUMER",
    "SUBJECT",
    "EVENT_ID",
    "TYPE",
    "ORG",
    "DELIVERIES",
    "REDRIVES",
    "CLASS",
    "ERROR",
)


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value} is not a positive integer")
    return number


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m keel_runtime.events.dead_letters_cli",
        description="Inspect and redeliver events that consumers dead-lettered (stream DLQ).",
    )
    parser.add_argument("--nats-url", default=os.environ.get("NATS_URL", "nats://127.0.0.1:4222"))
    add_tls_arguments(parser)
    commands = parser.add_subparsers(dest="command", required=True)

    listing = commands.add_parser("list", help="print dead letters, oldest first (nothing removed)")
    listing.add_argument("--consumer", help="only this consumer's dead letters")
    listing.add_argument("--limit", type=_positive, help="at most this many")

    again = commands.add_parser(
        "redeliver",
        help="republish to the original subject with a new message id, then delete from DLQ",
    )
    which = again.add_mutually_exclusive_group(required=True)
    which.add_argument("--seq", type=_positive, action="append", help="DLQ sequence (repeatable)")
    which.add_argument("--consumer", help="every dead letter of this consumer")
    which.add_argument("--all", action="store_true", help="every dead letter of every consumer")
    again.add_argument("--dry-run", action="store_true", help="print what would be redelivered")
    return parser


def _field(value: object) -> str:
    # Tab-separated columns: an empty or missing value prints as "-".
    text = "" if value is None else str(value)
    return " ".join(text.split()) or "-"


def _row(letter: DeadLetter) -> str:
    envelope = letter.envelope
    return "\t".join(
        _field(value)
        for value in (
            letter.seq,
            letter.time.isoformat() if letter.time else None,
            letter.consumer,
            letter.original_subject,
            envelope.id if envelope else None,
            envelope.type if envelope else None,
            envelope.org_id if envelope else None,
            letter.deliveries,
            letter.redrives,
            letter.error_class,
            letter.error,
        )
    )


def _describe(exc: BaseException) -> str:
    return str(exc) or repr(exc)


async def _list(js: JetStreamContext, args: argparse.Namespace) -> int:
    letters = await list_dead_letters(js, consumer=args.consumer, limit=args.limit)
    print("\t".join(COLUMNS))
    for letter in letters:
        print(_row(letter))
    return 0


async def _selected(js: JetStreamContext, args: argparse.Namespace) -> tuple[list[DeadLetter], int]:
    if not args.seq:
        return await list_dead_letters(js, consumer=args.consumer), 0
    letters: list[DeadLetter] = []
    failures = 0
    for seq in dict.fromkeys(args.seq):
        try:
            letters.append(await get_dead_letter(js, seq))
        except DeadLetterError as exc:
            print(f"error: {exc}", file=sys.stderr)
            failures += 1
    return letters, failures


async def _redeliver(js: JetStreamContext, args: argparse.Namespace) -> int:
    letters, failures = await _selected(js, args)
    for letter in letters:
        try:
            if args.dry_run:
                print(f"would redeliver {letter.seq} to {subject_of(letter)}")
                continue
            done = await redeliver(js, letter)
        except DeadLetterError as exc:
            print(f"error: {exc}", file=sys.stderr)
            failures += 1
            continue
        note = " (already published by an earlier attempt)" if done.duplicate else ""
        print(f"redelivered {letter.seq} to {done.subject} as {done.stream} #{done.seq}{note}")
    if not letters and not failures:
        print("no dead letters selected")
    return 1 if failures else 0


async def run(argv: Sequence[str] | None = None) -> int:
    """The command in a running event loop; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        nc, js = await connect_nats_once(
            args.nats_url, name="dead-letters", tls=tls_of(parser, args)
        )
    except Exception as exc:
        print(
            f"error: cannot connect to NATS at {redact_url(args.nats_url)}: {_describe(exc)}",
            file=sys.stderr,
        )
        return 1
    try:
        if args.command == "list":
            return await _list(js, args)
        return await _redeliver(js, args)
    except DeadLetterError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # broker errors, timeouts: one line, not a traceback
        print(f"error: {_describe(exc)}", file=sys.stderr)
        return 1
    finally:
        with contextlib.suppress(Exception):
            await nc.drain()


def main(argv: Sequence[str] | None = None) -> int:
    return asyncio.run(run(argv))


if __name__ == "__main__":
    sys.exit(main())
