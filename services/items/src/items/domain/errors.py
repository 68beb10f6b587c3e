"""Domain errors of the items service, each with a stable UPPER_SNAKE reason."""

from __future__ import annotations


class ItemsError(Exception):
    """Root of every items domain error."""

    reason = "ITEMS_ERROR"

    def __init__(self, message: str, **metadata: str) -> None:
        super().__init__(message)
        # Extra ErrorInfo metadata (ids, states); values are strings as ErrorInfo requires.
        self.metadata: dict[str, str] = metadata


# Categories, named alike in every service: transport/errors.py maps these (by MRO) to
# gRPC status codes, never a concrete error. They are never raised themselves.
class NotFound(ItemsError):
    """The item or tag does not exist, or not for the caller's organization."""


class InvalidRequest(ItemsError):
    """The request is malformed in a way the contract's validation cannot express."""


class Conflict(ItemsError):
    """What the request would create exists already."""


class PreconditionFailed(ItemsError):
    """The request is well formed but the item's state does not allow it now."""


class Unavailable(ItemsError):
    """Something the service depends on failed; trying again later may succeed."""


class ItemNotFound(NotFound):
    reason = "ITEM_NOT_FOUND"


class TagNotFound(NotFound):
    reason = "TAG_NOT_FOUND"


class InvalidStateTransition(PreconditionFailed):
    reason = "INVALID_STATE_TRANSITION"


class ItemNotEditable(PreconditionFailed):
    reason = "ITEM_NOT_EDITABLE"


class RequestIdReused(Conflict):
    reason = "REQUEST_ID_REUSED"


class TagAlreadyExists(Conflict):
    reason = "TAG_ALREADY_EXISTS"


class InvalidTagName(InvalidRequest):
    reason = "INVALID_TAG_NAME"


class InvalidSource(InvalidRequest):
    reason = "INVALID_SOURCE"


class InvalidUpdateMask(InvalidRequest):
    reason = "INVALID_UPDATE_MASK"


class EnrichmentError(Unavailable):
    """A provider could not enrich an item (the worker retries, then fails the item)."""

    reason = "ENRICHMENT_FAILED"
