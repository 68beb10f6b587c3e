import datetime

from buf.validate import validate_pb2 as _validate_pb2
from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from keel.auth.v1 import options_pb2 as _options_pb2
from keel.ledger.v1 import resources_pb2 as _resources_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PendingOptions(_message.Message):
    __slots__ = ("expire_time", "ttl")
    EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    TTL_FIELD_NUMBER: _ClassVar[int]
    expire_time: _timestamp_pb2.Timestamp
    ttl: _duration_pb2.Duration
    def __init__(self, expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., ttl: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class CreateTransactionRequest(_message.Message):
    __slots__ = ("request_id", "postings", "metadata", "pending")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    POSTINGS_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    PENDING_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    postings: _containers.RepeatedCompositeFieldContainer[_resources_pb2.Posting]
    metadata: _containers.ScalarMap[str, str]
    pending: PendingOptions
    def __init__(self, request_id: _Optional[str] = ..., postings: _Optional[_Iterable[_Union[_resources_pb2.Posting, _Mapping]]] = ..., metadata: _Optional[_Mapping[str, str]] = ..., pending: _Optional[_Union[PendingOptions, _Mapping]] = ...) -> None: ...

class CreateTransactionResponse(_message.Message):
    __slots__ = ("transaction",)
    TRANSACTION_FIELD_NUMBER: _ClassVar[int]
    transaction: _resources_pb2.Transaction
    def __init__(self, transaction: _Optional[_Union[_resources_pb2.Transaction, _Mapping]] = ...) -> None: ...

class PostPendingTransactionRequest(_message.Message):
    __slots__ = ("transaction_id", "request_id", "amount", "metadata")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    TRANSACTION_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    transaction_id: str
    request_id: str
    amount: int
    metadata: _containers.ScalarMap[str, str]
    def __init__(self, transaction_id: _Optional[str] = ..., request_id: _Optional[str] = ..., amount: _Optional[int] = ..., metadata: _Optional[_Mapping[str, str]] = ...) -> None: ...

class PostPendingTransactionResponse(_message.Message):
    __slots__ = ("transaction", "pending_transaction")
    TRANSACTION_FIELD_NUMBER: _ClassVar[int]
    PENDING_TRANSACTION_FIELD_NUMBER: _ClassVar[int]
    transaction: _resources_pb2.Transaction
    pending_transaction: _resources_pb2.Transaction
    def __init__(self, transaction: _Optional[_Union[_resources_pb2.Transaction, _Mapping]] = ..., pending_transaction: _Optional[_Union[_resources_pb2.Transaction, _Mapping]] = ...) -> None: ...

class VoidPendingTransactionRequest(_message.Message):
    __slots__ = ("transaction_id", "request_id", "metadata")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    TRANSACTION_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    transaction_id: str
    request_id: str
    metadata: _containers.ScalarMap[str, str]
    def __init__(self, transaction_id: _Optional[str] = ..., request_id: _Optional[str] = ..., metadata: _Optional[_Mapping[str, str]] = ...) -> None: ...

class VoidPendingTransactionResponse(_message.Message):
    __slots__ = ("transaction", "pending_transaction")
    TRANSACTION_FIELD_NUMBER: _ClassVar[int]
    PENDING_TRANSACTION_FIELD_NUMBER: _ClassVar[int]
    transaction: _resources_pb2.Transaction
    pending_transaction: _resources_pb2.Transaction
    def __init__(self, transaction: _Optional[_Union[_resources_pb2.Transaction, _Mapping]] = ..., pending_transaction: _Optional[_Union[_resources_pb2.Transaction, _Mapping]] = ...) -> None: ...

class ReverseTransactionRequest(_message.Message):
    __slots__ = ("transaction_id", "request_id", "metadata")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    TRANSACTION_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    transaction_id: str
    request_id: str
    metadata: _containers.ScalarMap[str, str]
    def __init__(self, transaction_id: _Optional[str] = ..., request_id: _Optional[str] = ..., metadata: _Optional[_Mapping[str, str]] = ...) -> None: ...

class ReverseTransactionResponse(_message.Message):
    __slots__ = ("transaction",)
    TRANSACTION_FIELD_NUMBER: _ClassVar[int]
    transaction: _resources_pb2.Transaction
    def __init__(self, transaction: _Optional[_Union[_resources_pb2.Transaction, _Mapping]] = ...) -> None: ...

class GetTransactionRequest(_message.Message):
    __slots__ = ("transaction_id",)
    TRANSACTION_ID_FIELD_NUMBER: _ClassVar[int]
    transaction_id: str
    def __init__(self, transaction_id: _Optional[str] = ...) -> None: ...

class GetTransactionResponse(_message.Message):
    __slots__ = ("transaction",)
    TRANSACTION_FIELD_NUMBER: _ClassVar[int]
    transaction: _resources_pb2.Transaction
    def __init__(self, transaction: _Optional[_Union[_resources_pb2.Transaction, _Mapping]] = ...) -> None: ...

class ListTransactionsRequest(_message.Message):
    __slots__ = ("account_id", "start_time", "end_time", "page_size", "page_token")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    page_size: int
    page_token: str
    def __init__(self, account_id: _Optional[str] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListTransactionsResponse(_message.Message):
    __slots__ = ("transactions", "next_page_token")
    TRANSACTIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    transactions: _containers.RepeatedCompositeFieldContainer[_resources_pb2.Transaction]
    next_page_token: str
    def __init__(self, transactions: _Optional[_Iterable[_Union[_resources_pb2.Transaction, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class CreateTransactionBatchRequest(_message.Message):
    __slots__ = ("requests",)
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    requests: _containers.RepeatedCompositeFieldContainer[CreateTransactionRequest]
    def __init__(self, requests: _Optional[_Iterable[_Union[CreateTransactionRequest, _Mapping]]] = ...) -> None: ...

class CreateTransactionBatchResponse(_message.Message):
    __slots__ = ("transactions",)
    TRANSACTIONS_FIELD_NUMBER: _ClassVar[int]
    transactions: _containers.RepeatedCompositeFieldContainer[_resources_pb2.Transaction]
    def __init__(self, transactions: _Optional[_Iterable[_Union[_resources_pb2.Transaction, _Mapping]]] = ...) -> None: ...
