import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from keel.auth.v1 import options_pb2 as _options_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RotateSigningKeyRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class RotateSigningKeyResponse(_message.Message):
    __slots__ = ("active_key_id", "retired_key_id", "retired_key_unpublish_time", "active_key_sign_time")
    ACTIVE_KEY_ID_FIELD_NUMBER: _ClassVar[int]
    RETIRED_KEY_ID_FIELD_NUMBER: _ClassVar[int]
    RETIRED_KEY_UNPUBLISH_TIME_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_KEY_SIGN_TIME_FIELD_NUMBER: _ClassVar[int]
    active_key_id: str
    retired_key_id: str
    retired_key_unpublish_time: _timestamp_pb2.Timestamp
    active_key_sign_time: _timestamp_pb2.Timestamp
    def __init__(self, active_key_id: _Optional[str] = ..., retired_key_id: _Optional[str] = ..., retired_key_unpublish_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., active_key_sign_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
