"""Secrets at rest: columns sealed with AES-GCM under keys that live outside the database.

A service declares a secret column with ``SealedText("<table>.<column>")``; values are
sealed on the way in and opened on the way out, so repositories never see ciphertext.

Keys come from ``DATA_ENCRYPTION_KEYS``: comma-separated ``<key id>:<base64url 32 bytes>``,
newest first. The newest seals; any listed key opens. To rotate, put a new key first, keep
the old ones, run ``python -m <svc> migrate`` (it reseals every value not sealed with the
newest key, see ``reseal``), then drop the old key. Without the variable a process makes
an ephemeral key and warns: fine for tests, never for data that must outlive the process.

A stored value is ``sealed:v1:<key id>:<base64url(nonce | ciphertext | tag)>``; the column's
name is authenticated with it, so a value copied into another column does not open.
Keys are never logged and never written to the database.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import secrets
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Column, MetaData, Table, Text, TypeDecorator, select, update
from sqlalchemy.engine import Connection, Dialect

log = logging.getLogger(__name__)

KEYS_VARIABLE = "DATA_ENCRYPTION_KEYS"
PREFIX = "sealed:v1:"
NONCE_BYTES = 12


class SealingError(Exception):
    """A value cannot be opened (unknown key, tampered, or not sealed), or keys are malformed."""


@dataclass(frozen=True)
class Keyring:
    """Data keys, newest first; ``str()`` never shows them."""

    keys: tuple[tuple[str, bytes], ...]

    def __post_init__(self) -> None:
        if not self.keys:
            raise SealingError("a keyring needs at least one key")

    def __repr__(self) -> str:
        return f"Keyring(key_ids={[kid for kid, _ in self.keys]})"

    @classmethod
    def parse(cls, value: str) -> Keyring:
        """``id:base64url-key,...`` (newest first); errors never echo a key."""
        keys: list[tuple[str, bytes]] = []
        for number, item in enumerate(value.split(","), start=1):
            kid, sep, encoded = item.strip().partition(":")
            if not sep or not kid or ":" in encoded:
                raise SealingError(f"{KEYS_VARIABLE}: entry {number} is not <key id>:<key>")
            try:
                key = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
            except (binascii.Error, ValueError):
                raise SealingError(f"{KEYS_VARIABLE}: key {kid!r} is not base64url") from None
            if len(key) != 32:
                raise SealingError(f"{KEYS_VARIABLE}: key {kid!r} must be 32 bytes")
            keys.append((kid, key))
        return cls(tuple(keys))

    @classmethod
    def generate(cls, kid: str | None = None) -> Keyring:
        return cls(((kid or "k" + secrets.token_hex(4), AESGCM.generate_key(bit_length=256)),))

    def setting(self) -> str:
        """The ``DATA_ENCRYPTION_KEYS`` value of this keyring."""
        return ",".join(
            f"{kid}:{base64.urlsafe_b64encode(key).decode().rstrip('=')}" for kid, key in self.keys
        )

    @property
    def current_id(self) -> str:
        return self.keys[0][0]

    def seal(self, plaintext: str, context: str) -> str:
        kid, key = self.keys[0]
        nonce = secrets.token_bytes(NONCE_BYTES)
        sealed = AESGCM(key).encrypt(nonce, plaintext.encode(), context.encode())
        return f"{PREFIX}{kid}:{base64.urlsafe_b64encode(nonce + sealed).decode()}"

    def open(self, stored: str, context: str) -> str:
        if not stored.startswith(PREFIX):
            raise SealingError(f"{context} holds a value that is not sealed")
        kid, _, encoded = stored[len(PREFIX) :].partition(":")
        key = dict(self.keys).get(kid)
        if key is None:
            raise SealingError(f"{context} is sealed with key {kid!r}, not in {KEYS_VARIABLE}")
        try:
            raw = base64.urlsafe_b64decode(encoded)
            return (
                AESGCM(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], context.encode()).decode()
            )
        except (binascii.Error, ValueError, InvalidTag):
            raise SealingError(f"{context} holds a value that does not open") from None

    def is_current(self, stored: str) -> bool:
        return stored.startswith(f"{PREFIX}{self.current_id}:")


_keyring: Keyring | None = None


def keyring() -> Keyring:
    """The process's keyring, read once from ``DATA_ENCRYPTION_KEYS``."""
    global _keyring
    if _keyring is None:
        value = os.environ.get(KEYS_VARIABLE, "").strip()
        if value:
            _keyring = Keyring.parse(value)
        else:
            log.warning(
                "%s is not set: secrets at rest are sealed with an ephemeral key and will"
                " not open after a restart",
                KEYS_VARIABLE,
            )
            _keyring = Keyring.generate("ephemeral")
    return _keyring


def use_keyring(ring: Keyring | None) -> None:
    """Replace the process's keyring (tests, or a service configuring it explicitly)."""
    global _keyring
    _keyring = ring


class SealedText(TypeDecorator[str]):
    """A text column holding a secret, sealed with the process's keyring."""

    impl = Text
    cache_ok = True

    def __init__(self, context: str) -> None:
        super().__init__()
        self.context = context

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else keyring().seal(value, self.context)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else keyring().open(value, self.context)


def sealed_columns(metadata: MetaData) -> list[tuple[Table, Column[Any]]]:
    return [
        (table, column)
        for table in metadata.tables.values()
        for column in table.columns
        if isinstance(column.type, SealedText)
    ]


def reseal(connection: Connection, metadata: MetaData) -> int:
    """Seal again with the newest key every value that is not: values under older keys, and
    plain values written before the column was sealed. Returns how many were rewritten."""
    ring = keyring()
    count = 0
    for table, column in sealed_columns(metadata):
        context = column.type.context  # type: ignore[attr-defined]
        key = list(table.primary_key.columns)
        # Read the stored text itself (not through SealedText): plain values must not fail.
        stored = Column(column.name, Text)
        plain = Table(table.name, MetaData(), *[Column(c.name, c.type) for c in key], stored)
        rows = connection.execute(select(*[plain.c[c.name] for c in key], plain.c[column.name]))
        for row in rows.all():
            value: str = row[-1]
            if value is None or ring.is_current(value):
                continue
            opened = ring.open(value, context) if value.startswith(PREFIX) else value
            where = [plain.c[c.name] == row[i] for i, c in enumerate(key)]
            connection.execute(
                update(plain).where(*where).values({column.name: ring.seal(opened, context)})
            )
            count += 1
    return count
