"""Checkpoint MACs and settings, without I/O."""

from __future__ import annotations

import base64
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from keel_runtime.settings import SettingsError
from ledger.config import Config
from ledger.domain.checkpoint import CheckpointKey, Head, is_authentic, seal, vouched_heads

NOW = datetime(2026, 12, 3, 19, 0, 0, 123456, tzinfo=UTC)
HEADS = [Head("b", 2, b"\x02" * 32), Head("a", 1, b"\x01" * 32)]


def test_only_the_key_vouches_for_exactly_what_it_sealed() -> None:
    key = CheckpointKey.generate()
    checkpoint = seal(key, 1, NOW, HEADS, b"")
    assert [h.account_id for h in checkpoint.heads] == ["a", "b"]
    assert is_authentic(key, checkpoint)
    assert not is_authentic(CheckpointKey.generate(), checkpoint)
    forged_head = replace(checkpoint, heads=(Head("a", 1, b"\x09" * 32), checkpoint.heads[1]))
    for forged in (
        forged_head,
        replace(checkpoint, sequence=2),
        replace(checkpoint, taken_at=NOW.replace(microsecond=0)),
        replace(checkpoint, previous_mac=b"x"),
    ):
        assert not is_authentic(key, forged)


def test_vouched_heads_need_an_unbroken_run_of_checkpoints() -> None:
    key = CheckpointKey.generate()
    first = seal(key, 1, NOW, HEADS, b"")
    second = seal(key, 2, NOW, [Head("a", 3, b"\x03" * 32)], first.mac)
    third = seal(key, 3, NOW, [Head("b", 4, b"\x04" * 32)], second.mac)
    problems, vouched = vouched_heads(key, [first, second, third], known_sequence=3)
    assert problems == []
    assert vouched == {
        "a": {1: b"\x01" * 32, 3: b"\x03" * 32},
        "b": {2: b"\x02" * 32, 4: b"\x04" * 32},
    }
    problems, _ = vouched_heads(key, [first, third])
    assert [p.code for p in problems] == ["CHECKPOINT_MISSING"]
    problems, _ = vouched_heads(key, [first, second], known_sequence=3)
    assert [p.code for p in problems] == ["CHECKPOINT_MISSING"]


def test_the_key_comes_from_settings_and_never_shows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://localhost/keel_ledger")
    monkeypatch.setenv("NATS_URL", "nats://localhost:4222")
    secret = bytes(range(32))
    monkeypatch.setenv("LEDGER_CHECKPOINT_KEY", base64.b64encode(secret).decode())
    config = Config.from_env()
    assert config.checkpoint_key == CheckpointKey(secret)
    assert base64.b64encode(secret).decode() not in repr(config)
    short = base64.b64encode(b"sixteen byte key").decode()
    monkeypatch.setenv("LEDGER_CHECKPOINT_KEY", short)
    with pytest.raises(SettingsError) as caught:
        Config.from_env()
    assert "at least 32" in str(caught.value) and short not in str(caught.value)
    monkeypatch.delenv("LEDGER_CHECKPOINT_KEY")
    assert Config.from_env().checkpoint_key is None
