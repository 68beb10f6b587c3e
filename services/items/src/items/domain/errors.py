"""Domain errors of the items service, each with a stable UPPER_SNAKE reason."""

from __future__ import annotations


class ItemsError(Exception):
    """Root of every items domain error."""

    reason = "ITEMS_ERROR"

    def __init__(self, message: str, **metadata: str) -> None:
        super().__init__(message)
        # Extra ErrorInfo metadata (ids, states); values are strings as ErrorInfo requires.
        self.metadata: dict[str, str] = metadata


class ItemNotFound(ItemsError):
    reason = "ITEM_NOT_FOUND"


class TagNotFound(ItemsError):
    reason = "TAG_NOT_FOUND"


class InvalidStateTransition(ItemsError):
    reason = "INVALID_STATE_TRANSITION"


class ItemNotEditable(ItemsError):
    reason = "ITEM_NOT_EDITABLE"


class RequestIdReused(ItemsError):
    reason = "REQUEST_ID_REUSED"


class TagAlreadyExists(ItemsError):
    reason = "TAG_ALREADY_EXISTS"


class InvalidTagName(ItemsError):
    reason = "INVALID_TAG_NAME"


class InvalidSource(ItemsError):
    reason = "INVALID_SOURCE"


class InvalidUpdateMask(ItemsError):
    reason = "INVALID_UPDATE_MASK"


class EnrichmentError(ItemsError):
    """A provider could not enrich an item (the worker retries, then fails the item)."""

    reason = "ENRICHMENT_FAILED"
