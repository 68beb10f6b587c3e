import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ItemCreated(_message.Message):
    __slots__ = ("item_id", "organization_id", "url", "note", "created_by")
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    item_id: str
    organization_id: str
    url: str
    note: str
    created_by: str
    def __init__(self, item_id: _Optional[str] = ..., organization_id: _Optional[str] = ..., url: _Optional[str] = ..., note: _Optional[str] = ..., created_by: _Optional[str] = ...) -> None: ...

class EnrichmentRequested(_message.Message):
    __slots__ = ("item_id", "organization_id", "requested_by")
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_BY_FIELD_NUMBER: _ClassVar[int]
    item_id: str
    organization_id: str
    requested_by: str
    def __init__(self, item_id: _Optional[str] = ..., organization_id: _Optional[str] = ..., requested_by: _Optional[str] = ...) -> None: ...

class ItemEnriched(_message.Message):
    __slots__ = ("item_id", "organization_id", "title", "summary", "tags", "attempts")
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    item_id: str
    organization_id: str
    title: str
    summary: str
    tags: _containers.RepeatedScalarFieldContainer[str]
    attempts: int
    def __init__(self, item_id: _Optional[str] = ..., organization_id: _Optional[str] = ..., title: _Optional[str] = ..., summary: _Optional[str] = ..., tags: _Optional[_Iterable[str]] = ..., attempts: _Optional[int] = ...) -> None: ...

class EnrichmentFailed(_message.Message):
    __slots__ = ("item_id", "organization_id", "reason", "attempts")
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    item_id: str
    organization_id: str
    reason: str
    attempts: int
    def __init__(self, item_id: _Optional[str] = ..., organization_id: _Optional[str] = ..., reason: _Optional[str] = ..., attempts: _Optional[int] = ...) -> None: ...

class ItemConfirmed(_message.Message):
    __slots__ = ("item_id", "organization_id", "confirmed_by", "tags", "confirm_time")
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    CONFIRMED_BY_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    CONFIRM_TIME_FIELD_NUMBER: _ClassVar[int]
    item_id: str
    organization_id: str
    confirmed_by: str
    tags: _containers.RepeatedScalarFieldContainer[str]
    confirm_time: _timestamp_pb2.Timestamp
    def __init__(self, item_id: _Optional[str] = ..., organization_id: _Optional[str] = ..., confirmed_by: _Optional[str] = ..., tags: _Optional[_Iterable[str]] = ..., confirm_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ItemDiscarded(_message.Message):
    __slots__ = ("item_id", "organization_id", "discarded_by")
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    DISCARDED_BY_FIELD_NUMBER: _ClassVar[int]
    item_id: str
    organization_id: str
    discarded_by: str
    def __init__(self, item_id: _Optional[str] = ..., organization_id: _Optional[str] = ..., discarded_by: _Optional[str] = ...) -> None: ...
