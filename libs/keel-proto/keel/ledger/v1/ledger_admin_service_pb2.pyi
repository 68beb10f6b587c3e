import datetime

from buf.validate import validate_pb2 as _validate_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from keel.auth.v1 import options_pb2 as _options_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class VerifyLedgerRequest(_message.Message):
    __slots__ = ("asset_code",)
    ASSET_CODE_FIELD_NUMBER: _ClassVar[int]
    asset_code: str
    def __init__(self, asset_code: _Optional[str] = ...) -> None: ...

class LedgerViolation(_message.Message):
    __slots__ = ("code", "asset_code", "account_id", "detail")
    CODE_FIELD_NUMBER: _ClassVar[int]
    ASSET_CODE_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    code: str
    asset_code: str
    account_id: str
    detail: str
    def __init__(self, code: _Optional[str] = ..., asset_code: _Optional[str] = ..., account_id: _Optional[str] = ..., detail: _Optional[str] = ...) -> None: ...

class VerifyLedgerResponse(_message.Message):
    __slots__ = ("ok", "violations", "accounts_checked", "entries_checked", "verify_time")
    OK_FIELD_NUMBER: _ClassVar[int]
    VIOLATIONS_FIELD_NUMBER: _ClassVar[int]
    ACCOUNTS_CHECKED_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_CHECKED_FIELD_NUMBER: _ClassVar[int]
    VERIFY_TIME_FIELD_NUMBER: _ClassVar[int]
    ok: bool
    violations: _containers.RepeatedCompositeFieldContainer[LedgerViolation]
    accounts_checked: int
    entries_checked: int
    verify_time: _timestamp_pb2.Timestamp
    def __init__(self, ok: _Optional[bool] = ..., violations: _Optional[_Iterable[_Union[LedgerViolation, _Mapping]]] = ..., accounts_checked: _Optional[int] = ..., entries_checked: _Optional[int] = ..., verify_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
