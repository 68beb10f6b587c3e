from keel.type.v1 import asset_pb2 as _asset_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Money(_message.Message):
    __slots__ = ("asset", "amount")
    ASSET_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    asset: _asset_pb2.Asset
    amount: int
    def __init__(self, asset: _Optional[_Union[_asset_pb2.Asset, _Mapping]] = ..., amount: _Optional[int] = ...) -> None: ...
