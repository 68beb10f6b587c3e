import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from keel.identity.v1 import resources_pb2 as _resources_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SessionRevocationReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SESSION_REVOCATION_REASON_UNSPECIFIED: _ClassVar[SessionRevocationReason]
    SESSION_REVOCATION_REASON_LOGOUT: _ClassVar[SessionRevocationReason]
    SESSION_REVOCATION_REASON_REFRESH_TOKEN_REUSED: _ClassVar[SessionRevocationReason]
    SESSION_REVOCATION_REASON_PASSWORD_CHANGED: _ClassVar[SessionRevocationReason]
SESSION_REVOCATION_REASON_UNSPECIFIED: SessionRevocationReason
SESSION_REVOCATION_REASON_LOGOUT: SessionRevocationReason
SESSION_REVOCATION_REASON_REFRESH_TOKEN_REUSED: SessionRevocationReason
SESSION_REVOCATION_REASON_PASSWORD_CHANGED: SessionRevocationReason

class OrganizationCreated(_message.Message):
    __slots__ = ("organization_id", "display_name", "owner_user_id", "default_currency", "create_time")
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    OWNER_USER_ID_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_CURRENCY_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    organization_id: str
    display_name: str
    owner_user_id: str
    default_currency: str
    create_time: _timestamp_pb2.Timestamp
    def __init__(self, organization_id: _Optional[str] = ..., display_name: _Optional[str] = ..., owner_user_id: _Optional[str] = ..., default_currency: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class UserCreated(_message.Message):
    __slots__ = ("user_id", "organization_id", "email", "roles", "create_time")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    ROLES_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    organization_id: str
    email: str
    roles: _containers.RepeatedScalarFieldContainer[_resources_pb2.Role]
    create_time: _timestamp_pb2.Timestamp
    def __init__(self, user_id: _Optional[str] = ..., organization_id: _Optional[str] = ..., email: _Optional[str] = ..., roles: _Optional[_Iterable[_Union[_resources_pb2.Role, str]]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class UserDeactivated(_message.Message):
    __slots__ = ("user_id", "organization_id", "deactivate_time")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    DEACTIVATE_TIME_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    organization_id: str
    deactivate_time: _timestamp_pb2.Timestamp
    def __init__(self, user_id: _Optional[str] = ..., organization_id: _Optional[str] = ..., deactivate_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class SessionRevoked(_message.Message):
    __slots__ = ("session_id", "user_id", "organization_id", "revoke_time", "reason")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    REVOKE_TIME_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    user_id: str
    organization_id: str
    revoke_time: _timestamp_pb2.Timestamp
    reason: SessionRevocationReason
    def __init__(self, session_id: _Optional[str] = ..., user_id: _Optional[str] = ..., organization_id: _Optional[str] = ..., revoke_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., reason: _Optional[_Union[SessionRevocationReason, str]] = ...) -> None: ...

class ApiKeyCreated(_message.Message):
    __slots__ = ("api_key_id", "organization_id", "prefix", "scopes", "created_by", "create_time")
    API_KEY_ID_FIELD_NUMBER: _ClassVar[int]
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    PREFIX_FIELD_NUMBER: _ClassVar[int]
    SCOPES_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    api_key_id: str
    organization_id: str
    prefix: str
    scopes: _containers.RepeatedScalarFieldContainer[str]
    created_by: str
    create_time: _timestamp_pb2.Timestamp
    def __init__(self, api_key_id: _Optional[str] = ..., organization_id: _Optional[str] = ..., prefix: _Optional[str] = ..., scopes: _Optional[_Iterable[str]] = ..., created_by: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ApiKeyRevoked(_message.Message):
    __slots__ = ("api_key_id", "organization_id", "revoke_time")
    API_KEY_ID_FIELD_NUMBER: _ClassVar[int]
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    REVOKE_TIME_FIELD_NUMBER: _ClassVar[int]
    api_key_id: str
    organization_id: str
    revoke_time: _timestamp_pb2.Timestamp
    def __init__(self, api_key_id: _Optional[str] = ..., organization_id: _Optional[str] = ..., revoke_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
