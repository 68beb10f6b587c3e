"""Follow log files and echo new lines with the component's name (`run --verbose`)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TextIO


class Tailer:
    """Echoes lines appended to every `*.log` in a directory, including files created later."""

    def __init__(self, log_dir: Path, stream: TextIO, *, interval: float = 0.2) -> None:
        self._dir = log_dir
        self._stream = stream
        self._interval = interval
        self._offsets: dict[Path, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="keel-tail", daemon=True)

    def start(self, *, from_end: bool = True) -> None:
        if from_end:  # only what is written from now on
            for path in self._dir.glob("*.log"):
                self._offsets[path] = path.stat().st_size
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self._poll()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self._poll()

    def _poll(self) -> None:
        width = 10
        for path in sorted(self._dir.glob("*.log")):
            offset = self._offsets.get(path, 0)
            try:
                with open(path, "rb") as f:
                    f.seek(offset)
                    chunk = f.read()
            except OSError:
                continue
            # Only whole lines; a partial last line waits for its newline.
            complete = chunk[: chunk.rfind(b"\n") + 1]
            self._offsets[path] = offset + len(complete)
            name = path.name.removesuffix(".log")
            for line in complete.decode(errors="replace").splitlines():
                self._stream.write(f"{name:>{width}} | {line}\n")
        self._stream.flush()
