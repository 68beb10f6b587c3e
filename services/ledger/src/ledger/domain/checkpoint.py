"""Checkpoints: the heads of the accounts' entry hash chains under a key the database lacks.

The chain alone proves nothing against whoever can write the database: they can recompute
every sha256 link and every head. A checkpoint is an HMAC-SHA256 over the heads, with a key
from the service's settings; checkpoints under one key form a chain of their own (each MAC
covers the previous one), so one rewritten or removed in the middle is detected, and each is
also published as an event, outside the database.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from ledger.domain.audit import Violation

KEY_MIN_BYTES = 32


@dataclass(frozen=True)
class CheckpointKey:
    secret: bytes = field(repr=False)

    @classmethod
    def generate(cls) -> CheckpointKey:
        return cls(secrets.token_bytes(KEY_MIN_BYTES))

    @classmethod
    def from_base64(cls, text: str) -> CheckpointKey:
        """Raises ValueError unless ``text`` is base64 of at least 32 bytes."""
        try:
            secret = base64.b64decode(text, validate=True)
        except binascii.Error as exc:
            raise ValueError("not base64") from exc
        if len(secret) < KEY_MIN_BYTES:
            raise ValueError(f"decodes to {len(secret)} bytes, at least {KEY_MIN_BYTES} needed")
        return cls(secret)

    @property
    def key_id(self) -> str:
        """Names the key in the database and in events without revealing it."""
        return hashlib.sha256(b"keel-ledger-checkpoint-key-id\0" + self.secret).hexdigest()[:16]

    def mac(self, message: bytes) -> bytes:
        return hmac.new(self.secret, message, hashlib.sha256).digest()


@dataclass(frozen=True)
class Head:
    """An account's chain at a checkpoint: how many entries, and the last one's hash."""

    account_id: str
    entry_count: int
    head_hash: bytes


@dataclass(frozen=True)
class Checkpoint:
    sequence: int
    key_id: str
    taken_at: datetime
    heads: tuple[Head, ...]
    """The heads that moved since the previous checkpoint under the key, by account id."""
    previous_mac: bytes
    mac: bytes

    @property
    def heads_digest(self) -> bytes:
        return heads_digest(self.heads)


def heads_digest(heads: Iterable[Head]) -> bytes:
    digest = hashlib.sha256()
    for head in sorted(heads, key=lambda h: h.account_id):
        digest.update(f"{head.account_id}|{head.entry_count}|{head.head_hash.hex()}\n".encode())
    return digest.digest()


def _signed(
    sequence: int, key_id: str, taken_at: datetime, previous_mac: bytes, digest: bytes
) -> bytes:
    micros = (taken_at - datetime(1970, 1, 1, tzinfo=UTC)) // _MICROSECOND
    return b"|".join(
        (b"keel-ledger-checkpoint/1", str(sequence).encode(), key_id.encode(),
         str(micros).encode(), previous_mac.hex().encode(), digest.hex().encode())
    )  # fmt: skip


def seal(
    key: CheckpointKey,
    sequence: int,
    taken_at: datetime,
    heads: Iterable[Head],
    previous_mac: bytes,
) -> Checkpoint:
    ordered = tuple(sorted(heads, key=lambda h: h.account_id))
    message = _signed(sequence, key.key_id, taken_at, previous_mac, heads_digest(ordered))
    return Checkpoint(sequence, key.key_id, taken_at, ordered, previous_mac, key.mac(message))


def is_authentic(key: CheckpointKey, checkpoint: Checkpoint) -> bool:
    """Whether ``key`` made this checkpoint with exactly these fields and heads."""
    message = _signed(
        checkpoint.sequence,
        checkpoint.key_id,
        checkpoint.taken_at,
        checkpoint.previous_mac,
        checkpoint.heads_digest,
    )
    return checkpoint.key_id == key.key_id and hmac.compare_digest(key.mac(message), checkpoint.mac)


_MICROSECOND = datetime(1970, 1, 1, 0, 0, 0, 1, tzinfo=UTC) - datetime(1970, 1, 1, tzinfo=UTC)


Vouched = dict[str, dict[int, bytes]]
"""Per account, the chain positions a checkpoint vouches for and their hashes."""


def vouched_heads(
    key: CheckpointKey, checkpoints: Iterable[Checkpoint], known_sequence: int = 0
) -> tuple[list[Violation], Vouched]:
    """Check a key's checkpoints (in sequence order): each made by the key, each chaining
    onto the one before, none missing, the last at least ``known_sequence`` (the latest this
    process took). What they vouch for comes only from the authentic ones."""
    found: list[Violation] = []
    vouched: Vouched = {}
    previous_mac, expected = b"", 1
    for checkpoint in checkpoints:
        if checkpoint.sequence != expected or checkpoint.previous_mac != previous_mac:
            found.append(
                Violation("CHECKPOINT_MISSING", detail=f"checkpoint {expected} is missing")
            )
        if is_authentic(key, checkpoint):
            for head in checkpoint.heads:
                vouched.setdefault(head.account_id, {})[head.entry_count] = head.head_hash
        else:
            found.append(
                Violation(
                    "CHECKPOINT_FORGED",
                    detail=f"checkpoint {checkpoint.sequence} does not carry the key's MAC",
                )
            )
        previous_mac, expected = checkpoint.mac, checkpoint.sequence + 1
    if known_sequence >= expected:
        found.append(
            Violation(
                "CHECKPOINT_MISSING",
                detail=f"checkpoint {known_sequence} was taken but is not in the database",
            )
        )
    return found, vouched
