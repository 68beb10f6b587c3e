import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from keel.billing.v1 import invoice_pb2 as _invoice_pb2
from keel.billing.v1 import subscription_pb2 as _subscription_pb2
from keel.billing.v1 import usage_pb2 as _usage_pb2
from keel.type.v1 import money_pb2 as _money_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SubscriptionCreated(_message.Message):
    __slots__ = ("subscription",)
    SUBSCRIPTION_FIELD_NUMBER: _ClassVar[int]
    subscription: _subscription_pb2.Subscription
    def __init__(self, subscription: _Optional[_Union[_subscription_pb2.Subscription, _Mapping]] = ...) -> None: ...

class SubscriptionChanged(_message.Message):
    __slots__ = ("subscription", "previous_plan_id", "proration")
    SUBSCRIPTION_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_PLAN_ID_FIELD_NUMBER: _ClassVar[int]
    PRORATION_FIELD_NUMBER: _ClassVar[int]
    subscription: _subscription_pb2.Subscription
    previous_plan_id: str
    proration: _money_pb2.Money
    def __init__(self, subscription: _Optional[_Union[_subscription_pb2.Subscription, _Mapping]] = ..., previous_plan_id: _Optional[str] = ..., proration: _Optional[_Union[_money_pb2.Money, _Mapping]] = ...) -> None: ...

class SubscriptionCanceled(_message.Message):
    __slots__ = ("subscription",)
    SUBSCRIPTION_FIELD_NUMBER: _ClassVar[int]
    subscription: _subscription_pb2.Subscription
    def __init__(self, subscription: _Optional[_Union[_subscription_pb2.Subscription, _Mapping]] = ...) -> None: ...

class UsageRecorded(_message.Message):
    __slots__ = ("usage_record",)
    USAGE_RECORD_FIELD_NUMBER: _ClassVar[int]
    usage_record: _usage_pb2.UsageRecord
    def __init__(self, usage_record: _Optional[_Union[_usage_pb2.UsageRecord, _Mapping]] = ...) -> None: ...

class InvoiceIssued(_message.Message):
    __slots__ = ("invoice",)
    INVOICE_FIELD_NUMBER: _ClassVar[int]
    invoice: _invoice_pb2.Invoice
    def __init__(self, invoice: _Optional[_Union[_invoice_pb2.Invoice, _Mapping]] = ...) -> None: ...

class InvoicePaid(_message.Message):
    __slots__ = ("invoice_id", "amount", "transaction_id")
    INVOICE_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    TRANSACTION_ID_FIELD_NUMBER: _ClassVar[int]
    invoice_id: str
    amount: _money_pb2.Money
    transaction_id: str
    def __init__(self, invoice_id: _Optional[str] = ..., amount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., transaction_id: _Optional[str] = ...) -> None: ...

class InvoicePaymentFailed(_message.Message):
    __slots__ = ("invoice_id", "amount", "reason", "attempt", "next_attempt_time")
    INVOICE_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    NEXT_ATTEMPT_TIME_FIELD_NUMBER: _ClassVar[int]
    invoice_id: str
    amount: _money_pb2.Money
    reason: str
    attempt: int
    next_attempt_time: _timestamp_pb2.Timestamp
    def __init__(self, invoice_id: _Optional[str] = ..., amount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., reason: _Optional[str] = ..., attempt: _Optional[int] = ..., next_attempt_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class InvoiceMarkedUncollectible(_message.Message):
    __slots__ = ("invoice",)
    INVOICE_FIELD_NUMBER: _ClassVar[int]
    invoice: _invoice_pb2.Invoice
    def __init__(self, invoice: _Optional[_Union[_invoice_pb2.Invoice, _Mapping]] = ...) -> None: ...
