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
