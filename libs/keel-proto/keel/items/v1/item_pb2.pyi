import datetime

from buf.validate import validate_pb2 as _validate_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ItemState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ITEM_STATE_UNSPECIFIED: _ClassVar[ItemState]
    ITEM_STATE_ENRICHING: _ClassVar[ItemState]
    ITEM_STATE_READY_TO_CONFIRM: _ClassVar[ItemState]
    ITEM_STATE_CONFIRMED: _ClassVar[ItemState]
    ITEM_STATE_DISCARDED: _ClassVar[ItemState]
    ITEM_STATE_FAILED: _ClassVar[ItemState]
ITEM_STATE_UNSPECIFIED: ItemState
ITEM_STATE_ENRICHING: ItemState
ITEM_STATE_READY_TO_CONFIRM: ItemState
ITEM_STATE_CONFIRMED: ItemState
ITEM_STATE_DISCARDED: ItemState
ITEM_STATE_FAILED: ItemState

class Item(_message.Message):
    __slots__ = ("item_id", "organization_id", "url", "note", "state", "title", "summary", "tags", "enrichment_attempts", "failure_reason", "created_by", "create_time", "update_time", "confirm_time")
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    ENRICHMENT_ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    FAILURE_REASON_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    CONFIRM_TIME_FIELD_NUMBER: _ClassVar[int]
    item_id: str
    organization_id: str
    url: str
    note: str
    state: ItemState
    title: str
    summary: str
    tags: _containers.RepeatedScalarFieldContainer[str]
    enrichment_attempts: int
    failure_reason: str
    created_by: str
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    confirm_time: _timestamp_pb2.Timestamp
    def __init__(self, item_id: _Optional[str] = ..., organization_id: _Optional[str] = ..., url: _Optional[str] = ..., note: _Optional[str] = ..., state: _Optional[_Union[ItemState, str]] = ..., title: _Optional[str] = ..., summary: _Optional[str] = ..., tags: _Optional[_Iterable[str]] = ..., enrichment_attempts: _Optional[int] = ..., failure_reason: _Optional[str] = ..., created_by: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., confirm_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
