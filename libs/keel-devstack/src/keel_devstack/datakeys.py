"""Keys the local mesh keeps across runs: the data key sealing secrets at rest
(DATA_ENCRYPTION_KEYS) and the ledger's checkpoint MAC key (LEDGER_CHECKPOINT_KEY).

Generated once into 0600 files beside the role passwords (var/secrets for `make run`), so
secrets sealed in one run open in the next and checkpoints taken in one run verify in the
next; never in a database, never logged.
"""

from __future__ import annotations

import base64
import os
import secrets
from collections.abc import Callable
from pathlib import Path

from keel_runtime.sealing import Keyring

CHECKPOINT_KEY_BYTES = 32


def _kept(path: Path, make: Callable[[], str]) -> str:
    """The value kept in ``path``; ``make()`` writes it there first if there is none."""
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    value = make()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(value + "\n")
    return value


def data_keys(path: Path) -> str:
    """The DATA_ENCRYPTION_KEYS value kept in ``path`` (created on first use)."""
    return _kept(path, lambda: Keyring.generate().setting())


def checkpoint_key(path: Path) -> str:
    """The LEDGER_CHECKPOINT_KEY value kept in ``path``: base64 of 32 random bytes."""
    return _kept(path, lambda: base64.b64encode(secrets.token_bytes(CHECKPOINT_KEY_BYTES)).decode())
