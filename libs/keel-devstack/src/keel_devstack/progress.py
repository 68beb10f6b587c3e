"""One line per component while the stack starts: `name  starting… ready in 1.2s`."""

from __future__ import annotations

import sys
import threading
from typing import TextIO


class Progress:
    """Progress lines and log messages on one stream, without interleaving half-lines."""

    def __init__(self, stream: TextIO | None = None, *, prefix: str = "") -> None:
        self._stream = stream
        self._prefix = prefix
        self._open = False
        self._lock = threading.Lock()

    @property
    def stream(self) -> TextIO:
        return self._stream if self._stream is not None else sys.stdout

    def begin(self, name: str) -> None:
        with self._lock:
            self._close_line()
            self.stream.write(f"{self._prefix}  {name:<11} starting… ")
            self.stream.flush()
            self._open = True

    def done(self, text: str) -> None:
        with self._lock:
            if not self._open:
                self.stream.write(f"{self._prefix}  ")
            self.stream.write(text + "\n")
            self.stream.flush()
            self._open = False

    def say(self, text: str) -> None:
        with self._lock:
            self._close_line()
            self.stream.write(f"{self._prefix}{text}\n")
            self.stream.flush()

    def _close_line(self) -> None:
        if self._open:
            self.stream.write("\n")
            self._open = False
