import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from keel.billing.v1 import plan_pb2 as _plan_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class UsageRecord(_message.Message):
    __slots__ = ("usage_record_id", "organization_id", "metric", "quantity", "dedup_key", "event_time", "distinct_value", "record_time")
    USAGE_RECORD_ID_FIELD_NUMBER: _ClassVar[int]
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    METRIC_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    DEDUP_KEY_FIELD_NUMBER: _ClassVar[int]
    EVENT_TIME_FIELD_NUMBER: _ClassVar[int]
    DISTINCT_VALUE_FIELD_NUMBER: _ClassVar[int]
    RECORD_TIME_FIELD_NUMBER: _ClassVar[int]
    usage_record_id: str
    organization_id: str
    metric: str
    quantity: int
    dedup_key: str
    event_time: _timestamp_pb2.Timestamp
    distinct_value: str
    record_time: _timestamp_pb2.Timestamp
    def __init__(self, usage_record_id: _Optional[str] = ..., organization_id: _Optional[str] = ..., metric: _Optional[str] = ..., quantity: _Optional[int] = ..., dedup_key: _Optional[str] = ..., event_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., distinct_value: _Optional[str] = ..., record_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class MetricUsage(_message.Message):
    __slots__ = ("metric", "aggregation", "value", "record_count")
    METRIC_FIELD_NUMBER: _ClassVar[int]
    AGGREGATION_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    RECORD_COUNT_FIELD_NUMBER: _ClassVar[int]
    metric: str
    aggregation: _plan_pb2.UsageAggregation
    value: int
    record_count: int
    def __init__(self, metric: _Optional[str] = ..., aggregation: _Optional[_Union[_plan_pb2.UsageAggregation, str]] = ..., value: _Optional[int] = ..., record_count: _Optional[int] = ...) -> None: ...
