import datetime

from buf.validate import validate_pb2 as _validate_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from keel.type.v1 import asset_pb2 as _asset_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AccountKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ACCOUNT_KIND_UNSPECIFIED: _ClassVar[AccountKind]
    ACCOUNT_KIND_WALLET: _ClassVar[AccountKind]
    ACCOUNT_KIND_FUNDING: _ClassVar[AccountKind]
    ACCOUNT_KIND_REVENUE: _ClassVar[AccountKind]
    ACCOUNT_KIND_EXPENSE: _ClassVar[AccountKind]
    ACCOUNT_KIND_RECEIVABLE: _ClassVar[AccountKind]
    ACCOUNT_KIND_PAYABLE: _ClassVar[AccountKind]
    ACCOUNT_KIND_SUSPENSE: _ClassVar[AccountKind]

class BalanceBound(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BALANCE_BOUND_UNSPECIFIED: _ClassVar[BalanceBound]
    BALANCE_BOUND_NONE: _ClassVar[BalanceBound]
    BALANCE_BOUND_DEBITS_MUST_NOT_EXCEED_CREDITS: _ClassVar[BalanceBound]
    BALANCE_BOUND_CREDITS_MUST_NOT_EXCEED_DEBITS: _ClassVar[BalanceBound]

class PostingSide(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    POSTING_SIDE_UNSPECIFIED: _ClassVar[PostingSide]
    POSTING_SIDE_DEBIT: _ClassVar[PostingSide]
    POSTING_SIDE_CREDIT: _ClassVar[PostingSide]

class EntryBucket(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ENTRY_BUCKET_UNSPECIFIED: _ClassVar[EntryBucket]
    ENTRY_BUCKET_POSTED: _ClassVar[EntryBucket]
    ENTRY_BUCKET_PENDING: _ClassVar[EntryBucket]

class TransactionKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TRANSACTION_KIND_UNSPECIFIED: _ClassVar[TransactionKind]
    TRANSACTION_KIND_STANDARD: _ClassVar[TransactionKind]
    TRANSACTION_KIND_PENDING: _ClassVar[TransactionKind]
    TRANSACTION_KIND_POST_PENDING: _ClassVar[TransactionKind]
    TRANSACTION_KIND_VOID_PENDING: _ClassVar[TransactionKind]
    TRANSACTION_KIND_EXPIRE_PENDING: _ClassVar[TransactionKind]
    TRANSACTION_KIND_REVERSAL: _ClassVar[TransactionKind]

class TransactionState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TRANSACTION_STATE_UNSPECIFIED: _ClassVar[TransactionState]
    TRANSACTION_STATE_PENDING: _ClassVar[TransactionState]
    TRANSACTION_STATE_POSTED: _ClassVar[TransactionState]
    TRANSACTION_STATE_VOIDED: _ClassVar[TransactionState]
    TRANSACTION_STATE_EXPIRED: _ClassVar[TransactionState]
ACCOUNT_KIND_UNSPECIFIED: AccountKind
ACCOUNT_KIND_WALLET: AccountKind
ACCOUNT_KIND_FUNDING: AccountKind
ACCOUNT_KIND_REVENUE: AccountKind
ACCOUNT_KIND_EXPENSE: AccountKind
ACCOUNT_KIND_RECEIVABLE: AccountKind
ACCOUNT_KIND_PAYABLE: AccountKind
ACCOUNT_KIND_SUSPENSE: AccountKind
BALANCE_BOUND_UNSPECIFIED: BalanceBound
BALANCE_BOUND_NONE: BalanceBound
BALANCE_BOUND_DEBITS_MUST_NOT_EXCEED_CREDITS: BalanceBound
BALANCE_BOUND_CREDITS_MUST_NOT_EXCEED_DEBITS: BalanceBound
POSTING_SIDE_UNSPECIFIED: PostingSide
POSTING_SIDE_DEBIT: PostingSide
POSTING_SIDE_CREDIT: PostingSide
ENTRY_BUCKET_UNSPECIFIED: EntryBucket
ENTRY_BUCKET_POSTED: EntryBucket
ENTRY_BUCKET_PENDING: EntryBucket
TRANSACTION_KIND_UNSPECIFIED: TransactionKind
TRANSACTION_KIND_STANDARD: TransactionKind
TRANSACTION_KIND_PENDING: TransactionKind
TRANSACTION_KIND_POST_PENDING: TransactionKind
TRANSACTION_KIND_VOID_PENDING: TransactionKind
TRANSACTION_KIND_EXPIRE_PENDING: TransactionKind
TRANSACTION_KIND_REVERSAL: TransactionKind
TRANSACTION_STATE_UNSPECIFIED: TransactionState
TRANSACTION_STATE_PENDING: TransactionState
TRANSACTION_STATE_POSTED: TransactionState
TRANSACTION_STATE_VOIDED: TransactionState
TRANSACTION_STATE_EXPIRED: TransactionState

class Account(_message.Message):
    __slots__ = ("account_id", "organization_id", "kind", "asset", "balance_bound", "overdraft_limit", "metadata", "create_time")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    ASSET_FIELD_NUMBER: _ClassVar[int]
    BALANCE_BOUND_FIELD_NUMBER: _ClassVar[int]
    OVERDRAFT_LIMIT_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    organization_id: str
    kind: AccountKind
    asset: _asset_pb2.Asset
    balance_bound: BalanceBound
    overdraft_limit: int
    metadata: _containers.ScalarMap[str, str]
    create_time: _timestamp_pb2.Timestamp
    def __init__(self, account_id: _Optional[str] = ..., organization_id: _Optional[str] = ..., kind: _Optional[_Union[AccountKind, str]] = ..., asset: _Optional[_Union[_asset_pb2.Asset, _Mapping]] = ..., balance_bound: _Optional[_Union[BalanceBound, str]] = ..., overdraft_limit: _Optional[int] = ..., metadata: _Optional[_Mapping[str, str]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Balance(_message.Message):
    __slots__ = ("account_id", "asset", "debits_posted", "credits_posted", "debits_pending", "credits_pending", "available", "as_of_time")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    ASSET_FIELD_NUMBER: _ClassVar[int]
    DEBITS_POSTED_FIELD_NUMBER: _ClassVar[int]
    CREDITS_POSTED_FIELD_NUMBER: _ClassVar[int]
    DEBITS_PENDING_FIELD_NUMBER: _ClassVar[int]
    CREDITS_PENDING_FIELD_NUMBER: _ClassVar[int]
    AVAILABLE_FIELD_NUMBER: _ClassVar[int]
    AS_OF_TIME_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    asset: _asset_pb2.Asset
    debits_posted: int
    credits_posted: int
    debits_pending: int
    credits_pending: int
    available: int
    as_of_time: _timestamp_pb2.Timestamp
    def __init__(self, account_id: _Optional[str] = ..., asset: _Optional[_Union[_asset_pb2.Asset, _Mapping]] = ..., debits_posted: _Optional[int] = ..., credits_posted: _Optional[int] = ..., debits_pending: _Optional[int] = ..., credits_pending: _Optional[int] = ..., available: _Optional[int] = ..., as_of_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Posting(_message.Message):
    __slots__ = ("account_id", "side", "amount", "asset_code")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    SIDE_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    ASSET_CODE_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    side: PostingSide
    amount: int
    asset_code: str
    def __init__(self, account_id: _Optional[str] = ..., side: _Optional[_Union[PostingSide, str]] = ..., amount: _Optional[int] = ..., asset_code: _Optional[str] = ...) -> None: ...

class Transaction(_message.Message):
    __slots__ = ("transaction_id", "organization_id", "request_id", "kind", "state", "postings", "metadata", "pending_transaction_id", "reversed_transaction_id", "resolved_by_transaction_id", "create_time", "expire_time")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    TRANSACTION_ID_FIELD_NUMBER: _ClassVar[int]
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    POSTINGS_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    PENDING_TRANSACTION_ID_FIELD_NUMBER: _ClassVar[int]
    REVERSED_TRANSACTION_ID_FIELD_NUMBER: _ClassVar[int]
    RESOLVED_BY_TRANSACTION_ID_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    transaction_id: str
    organization_id: str
    request_id: str
    kind: TransactionKind
    state: TransactionState
    postings: _containers.RepeatedCompositeFieldContainer[Posting]
    metadata: _containers.ScalarMap[str, str]
    pending_transaction_id: str
    reversed_transaction_id: str
    resolved_by_transaction_id: str
    create_time: _timestamp_pb2.Timestamp
    expire_time: _timestamp_pb2.Timestamp
    def __init__(self, transaction_id: _Optional[str] = ..., organization_id: _Optional[str] = ..., request_id: _Optional[str] = ..., kind: _Optional[_Union[TransactionKind, str]] = ..., state: _Optional[_Union[TransactionState, str]] = ..., postings: _Optional[_Iterable[_Union[Posting, _Mapping]]] = ..., metadata: _Optional[_Mapping[str, str]] = ..., pending_transaction_id: _Optional[str] = ..., reversed_transaction_id: _Optional[str] = ..., resolved_by_transaction_id: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Entry(_message.Message):
    __slots__ = ("account_id", "sequence", "transaction_id", "side", "bucket", "amount", "asset_code", "create_time", "balance")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    TRANSACTION_ID_FIELD_NUMBER: _ClassVar[int]
    SIDE_FIELD_NUMBER: _ClassVar[int]
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    ASSET_CODE_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    BALANCE_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    sequence: int
    transaction_id: str
    side: PostingSide
    bucket: EntryBucket
    amount: int
    asset_code: str
    create_time: _timestamp_pb2.Timestamp
    balance: Balance
    def __init__(self, account_id: _Optional[str] = ..., sequence: _Optional[int] = ..., transaction_id: _Optional[str] = ..., side: _Optional[_Union[PostingSide, str]] = ..., bucket: _Optional[_Union[EntryBucket, str]] = ..., amount: _Optional[int] = ..., asset_code: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., balance: _Optional[_Union[Balance, _Mapping]] = ...) -> None: ...
