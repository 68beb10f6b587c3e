"""Sealed secrets: AES-GCM under keys from settings, newest seals, any listed key opens."""

from __future__ import annotations

import pytest

from keel_runtime.sealing import Keyring, SealingError

SECRET = "whsec_0123456789abcdef"


def test_a_sealed_value_is_not_the_plaintext_and_opens_back() -> None:
    ring = Keyring.generate("k1")
    stored = ring.seal(SECRET, "billing.webhook_endpoints.signing_secret")
    assert SECRET not in stored
    assert stored.startswith("sealed:v1:k1:")
    assert ring.open(stored, "billing.webhook_endpoints.signing_secret") == SECRET


def test_rotation_seals_with_the_newest_key_and_opens_with_any() -> None:
    old = Keyring.generate("k1")
    stored_before = old.seal(SECRET, "c")
    rotated = Keyring.parse(f"{Keyring.generate('k2').setting()},{old.setting()}")
    assert rotated.open(stored_before, "c") == SECRET
    assert not rotated.is_current(stored_before)
    stored_after = rotated.seal(SECRET, "c")
    assert rotated.is_current(stored_after)
    with pytest.raises(SealingError, match="key 'k2'"):
        old.open(stored_after, "c")  # the retired keyring cannot read new values


def test_a_value_moved_to_another_column_or_tampered_does_not_open() -> None:
    ring = Keyring.generate("k1")
    stored = ring.seal(SECRET, "a.column")
    with pytest.raises(SealingError, match="does not open"):
        ring.open(stored, "another.column")
    tampered = stored[:-4] + ("AAAA" if stored[-4:] != "AAAA" else "BBBB")
    with pytest.raises(SealingError, match="does not open"):
        ring.open(tampered, "a.column")


def test_a_plain_value_is_refused() -> None:
    with pytest.raises(SealingError, match="not sealed"):
        Keyring.generate().open(SECRET, "c")


def test_malformed_keys_are_reported_without_echoing_them() -> None:
    key_material = "c2VjcmV0LWJ1dC10b28tc2hvcnQ"
    with pytest.raises(SealingError) as refused:
        Keyring.parse(f"k1:{key_material}")
    assert "32 bytes" in str(refused.value)
    assert key_material not in str(refused.value)
    with pytest.raises(SealingError, match="entry 1"):
        Keyring.parse("no-separator")


def test_a_keyring_never_shows_its_keys() -> None:
    ring = Keyring.generate("k1")
    assert ring.setting().split(":", 1)[1] not in repr(ring)
    assert ring.setting().split(":", 1)[1] not in str(ring)
