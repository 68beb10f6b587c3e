"""Tag names: one normal form, so "Machine Learning" and "machine-learning" are one tag."""

from __future__ import annotations

import re
from collections.abc import Iterable

from items.domain.errors import InvalidTagName

MAX_TAG_LENGTH = 40
MAX_TAGS_PER_ITEM = 20

_SEPARATORS = re.compile(r"[\s_./]+")
_DISALLOWED = re.compile(r"[^a-z0-9-]")
_DASHES = re.compile(r"-{2,}")


def normalize_tag(raw: str) -> str:
    """Lower-case ASCII letters and digits, words joined by single '-'; InvalidTagName if empty."""
    name = _SEPARATORS.sub("-", raw.strip().lower())
    name = _DASHES.sub("-", _DISALLOWED.sub("", name)).strip("-")
    name = name[:MAX_TAG_LENGTH].rstrip("-")
    if not name:
        raise InvalidTagName(f"tag name {raw!r} has no letters or digits", tag=raw)
    return name


def normalize_tags(raw: Iterable[str]) -> tuple[str, ...]:
    """Normalized, de-duplicated (first occurrence wins), at most MAX_TAGS_PER_ITEM."""
    names: list[str] = []
    for value in raw:
        name = normalize_tag(value)
        if name not in names:
            names.append(name)
    if len(names) > MAX_TAGS_PER_ITEM:
        raise InvalidTagName(f"an item carries at most {MAX_TAGS_PER_ITEM} tags")
    return tuple(names)
