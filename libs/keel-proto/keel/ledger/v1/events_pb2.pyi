import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from keel.ledger.v1 import resources_pb2 as _resources_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AccountOpened(_message.Message):
    __slots__ = ("account",)
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    account: _resources_pb2.Account
    def __init__(self, account: _Optional[_Union[_resources_pb2.Account, _Mapping]] = ...) -> None: ...

class TransactionPosted(_message.Message):
    __slots__ = ("transaction",)
    TRANSACTION_FIELD_NUMBER: _ClassVar[int]
    transaction: _resources_pb2.Transaction
    def __init__(self, transaction: _Optional[_Union[_resources_pb2.Transaction, _Mapping]] = ...) -> None: ...

class PendingCreated(_message.Message):
    __slots__ = ("transaction",)
    TRANSACTION_FIELD_NUMBER: _ClassVar[int]
    transaction: _resources_pb2.Transaction
    def __init__(self, transaction: _Optional[_Union[_resources_pb2.Transaction, _Mapping]] = ...) -> None: ...

class PendingPosted(_message.Message):
    __slots__ = ("pending_transaction", "transaction")
    PENDING_TRANSACTION_FIELD_NUMBER: _ClassVar[int]
    TRANSACTION_FIELD_NUMBER: _ClassVar[int]
    pending_transaction: _resources_pb2.Transaction
    transaction: _resources_pb2.Transaction
    def __init__(self, pending_transaction: _Optional[_Union[_resources_pb2.Transaction, _Mapping]] = ..., transaction: _Optional[_Union[_resources_pb2.Transaction, _Mapping]] = ...) -> None: ...

class PendingVoided(_message.Message):
    __slots__ = ("pending_transaction", "transaction")
    PENDING_TRANSACTION_FIELD_NUMBER: _ClassVar[int]
    TRANSACTION_FIELD_NUMBER: _ClassVar[int]
    pending_transaction: _resources_pb2.Transaction
    transaction: _resources_pb2.Transaction
    def __init__(self, pending_transaction: _Optional[_Union[_resources_pb2.Transaction, _Mapping]] = ..., transaction: _Optional[_Union[_resources_pb2.Transaction, _Mapping]] = ...) -> None: ...

class PendingExpired(_message.Message):
    __slots__ = ("pending_transaction", "transaction")
    PENDING_TRANSACTION_FIELD_NUMBER: _ClassVar[int]
    TRANSACTION_FIELD_NUMBER: _ClassVar[int]
    pending_transaction: _resources_pb2.Transaction
    transaction: _resources_pb2.Transaction
    def __init__(self, pending_transaction: _Optional[_Union[_resources_pb2.Transaction, _Mapping]] = ..., transaction: _Optional[_Union[_resources_pb2.Transaction, _Mapping]] = ...) -> None: ...

class TransactionReversed(_message.Message):
    __slots__ = ("reversed_transaction", "transaction")
    REVERSED_TRANSACTION_FIELD_NUMBER: _ClassVar[int]
    TRANSACTION_FIELD_NUMBER: _ClassVar[int]
    reversed_transaction: _resources_pb2.Transaction
    transaction: _resources_pb2.Transaction
    def __init__(self, reversed_transaction: _Optional[_Union[_resources_pb2.Transaction, _Mapping]] = ..., transaction: _Optional[_Union[_resources_pb2.Transaction, _Mapping]] = ...) -> None: ...

class CheckpointRecorded(_message.Message):
    __slots__ = ("sequence", "key_id", "record_time", "account_count", "heads_digest", "previous_mac", "mac")
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    RECORD_TIME_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_COUNT_FIELD_NUMBER: _ClassVar[int]
    HEADS_DIGEST_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_MAC_FIELD_NUMBER: _ClassVar[int]
    MAC_FIELD_NUMBER: _ClassVar[int]
    sequence: int
    key_id: str
    record_time: _timestamp_pb2.Timestamp
    account_count: int
    heads_digest: bytes
    previous_mac: bytes
    mac: bytes
    def __init__(self, sequence: _Optional[int] = ..., key_id: _Optional[str] = ..., record_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., account_count: _Optional[int] = ..., heads_digest: _Optional[bytes] = ..., previous_mac: _Optional[bytes] = ..., mac: _Optional[bytes] = ...) -> None: ...
