import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from keel.type.v1 import money_pb2 as _money_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class InvoiceState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    INVOICE_STATE_UNSPECIFIED: _ClassVar[InvoiceState]
    INVOICE_STATE_OPEN: _ClassVar[InvoiceState]
    INVOICE_STATE_PAID: _ClassVar[InvoiceState]
    INVOICE_STATE_VOID: _ClassVar[InvoiceState]
    INVOICE_STATE_UNCOLLECTIBLE: _ClassVar[InvoiceState]

class InvoiceLineKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    INVOICE_LINE_KIND_UNSPECIFIED: _ClassVar[InvoiceLineKind]
    INVOICE_LINE_KIND_FLAT: _ClassVar[InvoiceLineKind]
    INVOICE_LINE_KIND_USAGE: _ClassVar[InvoiceLineKind]
    INVOICE_LINE_KIND_PRORATION: _ClassVar[InvoiceLineKind]
INVOICE_STATE_UNSPECIFIED: InvoiceState
INVOICE_STATE_OPEN: InvoiceState
INVOICE_STATE_PAID: InvoiceState
INVOICE_STATE_VOID: InvoiceState
INVOICE_STATE_UNCOLLECTIBLE: InvoiceState
INVOICE_LINE_KIND_UNSPECIFIED: InvoiceLineKind
INVOICE_LINE_KIND_FLAT: InvoiceLineKind
INVOICE_LINE_KIND_USAGE: InvoiceLineKind
INVOICE_LINE_KIND_PRORATION: InvoiceLineKind

class Invoice(_message.Message):
    __slots__ = ("invoice_id", "organization_id", "subscription_id", "plan_id", "state", "period_start", "period_end", "lines", "total", "issue_time", "paid_time", "void_time", "payment_transaction_id", "payment_attempts", "last_payment_error", "next_payment_attempt_time")
    INVOICE_ID_FIELD_NUMBER: _ClassVar[int]
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    SUBSCRIPTION_ID_FIELD_NUMBER: _ClassVar[int]
    PLAN_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    PERIOD_START_FIELD_NUMBER: _ClassVar[int]
    PERIOD_END_FIELD_NUMBER: _ClassVar[int]
    LINES_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    ISSUE_TIME_FIELD_NUMBER: _ClassVar[int]
    PAID_TIME_FIELD_NUMBER: _ClassVar[int]
    VOID_TIME_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_TRANSACTION_ID_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    LAST_PAYMENT_ERROR_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAYMENT_ATTEMPT_TIME_FIELD_NUMBER: _ClassVar[int]
    invoice_id: str
    organization_id: str
    subscription_id: str
    plan_id: str
    state: InvoiceState
    period_start: _timestamp_pb2.Timestamp
    period_end: _timestamp_pb2.Timestamp
    lines: _containers.RepeatedCompositeFieldContainer[InvoiceLine]
    total: _money_pb2.Money
    issue_time: _timestamp_pb2.Timestamp
    paid_time: _timestamp_pb2.Timestamp
    void_time: _timestamp_pb2.Timestamp
    payment_transaction_id: str
    payment_attempts: int
    last_payment_error: str
    next_payment_attempt_time: _timestamp_pb2.Timestamp
    def __init__(self, invoice_id: _Optional[str] = ..., organization_id: _Optional[str] = ..., subscription_id: _Optional[str] = ..., plan_id: _Optional[str] = ..., state: _Optional[_Union[InvoiceState, str]] = ..., period_start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., period_end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., lines: _Optional[_Iterable[_Union[InvoiceLine, _Mapping]]] = ..., total: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., issue_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., paid_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., void_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., payment_transaction_id: _Optional[str] = ..., payment_attempts: _Optional[int] = ..., last_payment_error: _Optional[str] = ..., next_payment_attempt_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class InvoiceLine(_message.Message):
    __slots__ = ("description", "metric", "quantity", "amount", "kind")
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    METRIC_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    description: str
    metric: str
    quantity: int
    amount: int
    kind: InvoiceLineKind
    def __init__(self, description: _Optional[str] = ..., metric: _Optional[str] = ..., quantity: _Optional[int] = ..., amount: _Optional[int] = ..., kind: _Optional[_Union[InvoiceLineKind, str]] = ...) -> None: ...
