"""Tag name normalization."""

from __future__ import annotations

import pytest

from items.domain.errors import InvalidTagName
from items.domain.tags import MAX_TAGS_PER_ITEM, normalize_tag, normalize_tags


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        ("Python", "python"),
        ("  Machine Learning ", "machine-learning"),
        ("machine_learning", "machine-learning"),
        ("C++ / Rust!", "c-rust"),
        ("--a--b--", "a-b"),
        ("x" * 60, "x" * 40),
    ],
)
def test_normalize_tag(raw: str, name: str) -> None:
    assert normalize_tag(raw) == name


@pytest.mark.parametrize("raw", ["", "   ", "!!!", "---"])
def test_tag_without_letters_or_digits_is_rejected(raw: str) -> None:
    with pytest.raises(InvalidTagName) as raised:
        normalize_tag(raw)
    assert raised.value.reason == "INVALID_TAG_NAME"


def test_normalize_tags_dedupes_in_order() -> None:
    assert normalize_tags(["B", "a", "b", "A "]) == ("b", "a")


def test_too_many_tags() -> None:
    with pytest.raises(InvalidTagName):
        normalize_tags([f"t{i}" for i in range(MAX_TAGS_PER_ITEM + 1)])
