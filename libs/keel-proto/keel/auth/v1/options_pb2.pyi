from google.protobuf import descriptor_pb2 as _descriptor_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Scope(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SCOPE_UNSPECIFIED: _ClassVar[Scope]
    SCOPE_ITEMS_READ: _ClassVar[Scope]
    SCOPE_ITEMS_WRITE: _ClassVar[Scope]
    SCOPE_LEDGER_READ: _ClassVar[Scope]
    SCOPE_LEDGER_WRITE: _ClassVar[Scope]
    SCOPE_BILLING_READ: _ClassVar[Scope]
    SCOPE_BILLING_WRITE: _ClassVar[Scope]
    SCOPE_IDENTITY_READ: _ClassVar[Scope]
    SCOPE_IDENTITY_WRITE: _ClassVar[Scope]
    SCOPE_BILLING_ADMIN: _ClassVar[Scope]
    SCOPE_LEDGER_ADMIN: _ClassVar[Scope]
    SCOPE_IDENTITY_ADMIN: _ClassVar[Scope]
SCOPE_UNSPECIFIED: Scope
SCOPE_ITEMS_READ: Scope
SCOPE_ITEMS_WRITE: Scope
SCOPE_LEDGER_READ: Scope
SCOPE_LEDGER_WRITE: Scope
SCOPE_BILLING_READ: Scope
SCOPE_BILLING_WRITE: Scope
SCOPE_IDENTITY_READ: Scope
SCOPE_IDENTITY_WRITE: Scope
SCOPE_BILLING_ADMIN: Scope
SCOPE_LEDGER_ADMIN: Scope
SCOPE_IDENTITY_ADMIN: Scope
SCOPE_FIELD_NUMBER: _ClassVar[int]
scope: _descriptor.FieldDescriptor
ACCESS_FIELD_NUMBER: _ClassVar[int]
access: _descriptor.FieldDescriptor

class ScopeInfo(_message.Message):
    __slots__ = ("name", "platform")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PLATFORM_FIELD_NUMBER: _ClassVar[int]
    name: str
    platform: bool
    def __init__(self, name: _Optional[str] = ..., platform: _Optional[bool] = ...) -> None: ...

class Access(_message.Message):
    __slots__ = ("public", "platform", "scopes")
    PUBLIC_FIELD_NUMBER: _ClassVar[int]
    PLATFORM_FIELD_NUMBER: _ClassVar[int]
    SCOPES_FIELD_NUMBER: _ClassVar[int]
    public: bool
    platform: bool
    scopes: _containers.RepeatedScalarFieldContainer[Scope]
    def __init__(self, public: _Optional[bool] = ..., platform: _Optional[bool] = ..., scopes: _Optional[_Iterable[_Union[Scope, str]]] = ...) -> None: ...
