from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from typing import ClassVar as _ClassVar

DESCRIPTOR: _descriptor.FileDescriptor

class ErrorReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ERROR_REASON_UNSPECIFIED: _ClassVar[ErrorReason]
    ERROR_REASON_ENRICHMENT_FAILED: _ClassVar[ErrorReason]
    ERROR_REASON_INVALID_SOURCE: _ClassVar[ErrorReason]
    ERROR_REASON_INVALID_STATE_TRANSITION: _ClassVar[ErrorReason]
    ERROR_REASON_INVALID_TAG_NAME: _ClassVar[ErrorReason]
    ERROR_REASON_INVALID_UPDATE_MASK: _ClassVar[ErrorReason]
    ERROR_REASON_ITEMS_ERROR: _ClassVar[ErrorReason]
    ERROR_REASON_ITEMS_PERMISSION_REQUIRED: _ClassVar[ErrorReason]
    ERROR_REASON_ITEM_NOT_EDITABLE: _ClassVar[ErrorReason]
    ERROR_REASON_ITEM_NOT_FOUND: _ClassVar[ErrorReason]
    ERROR_REASON_ORGANIZATION_REQUIRED: _ClassVar[ErrorReason]
    ERROR_REASON_REQUEST_ID_REUSED: _ClassVar[ErrorReason]
    ERROR_REASON_TAG_ALREADY_EXISTS: _ClassVar[ErrorReason]
    ERROR_REASON_TAG_NOT_FOUND: _ClassVar[ErrorReason]
ERROR_REASON_UNSPECIFIED: ErrorReason
ERROR_REASON_ENRICHMENT_FAILED: ErrorReason
ERROR_REASON_INVALID_SOURCE: ErrorReason
ERROR_REASON_INVALID_STATE_TRANSITION: ErrorReason
ERROR_REASON_INVALID_TAG_NAME: ErrorReason
ERROR_REASON_INVALID_UPDATE_MASK: ErrorReason
ERROR_REASON_ITEMS_ERROR: ErrorReason
ERROR_REASON_ITEMS_PERMISSION_REQUIRED: ErrorReason
ERROR_REASON_ITEM_NOT_EDITABLE: ErrorReason
ERROR_REASON_ITEM_NOT_FOUND: ErrorReason
ERROR_REASON_ORGANIZATION_REQUIRED: ErrorReason
ERROR_REASON_REQUEST_ID_REUSED: ErrorReason
ERROR_REASON_TAG_ALREADY_EXISTS: ErrorReason
ERROR_REASON_TAG_NOT_FOUND: ErrorReason
