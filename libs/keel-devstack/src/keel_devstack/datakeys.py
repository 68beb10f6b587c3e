"""The data key sealing secrets at rest (DATA_ENCRYPTION_KEYS) for the local mesh.

Generated once into a 0600 file beside the role passwords (var/secrets for `make run`), so
secrets sealed in one run open in the next; never in the database, never logged.
"""

from __future__ import annotations

import os
from pathlib import Path

from keel_runtime.sealing import Keyring


def data_keys(path: Path) -> str:
    """The DATA_ENCRYPTION_KEYS value kept in ``path`` (created on first use)."""
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    value = Keyring.generate().setting()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(value + "\n")
    return value
