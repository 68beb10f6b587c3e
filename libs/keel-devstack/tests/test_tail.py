"""`run --verbose` echoes new log lines, prefixed with the component, whole lines only."""

from __future__ import annotations

import io
from pathlib import Path

from keel_devstack.tail import Tailer


def test_echoes_appended_lines_of_every_log(tmp_path: Path) -> None:
    (tmp_path / "ledger.log").write_text("old line\n")
    out = io.StringIO()
    tailer = Tailer(tmp_path, out, interval=60)  # polled by stop(), not by the timer
    tailer.start()
    with open(tmp_path / "ledger.log", "a") as f:
        f.write("new line\npartial")
    (tmp_path / "items.log").write_text("first\n")
    tailer.stop()
    assert out.getvalue().splitlines() == ["     items | first", "    ledger | new line"]
