from google.api import annotations_pb2 as _annotations_pb2
from keel.auth.v1 import options_pb2 as _options_pb2
from keel.billing.v1 import subscription_pb2 as _subscription_pb2
from keel.type.v1 import money_pb2 as _money_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetBillingOverviewRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetBillingOverviewResponse(_message.Message):
    __slots__ = ("overview",)
    OVERVIEW_FIELD_NUMBER: _ClassVar[int]
    overview: BillingOverview
    def __init__(self, overview: _Optional[_Union[BillingOverview, _Mapping]] = ...) -> None: ...

class BillingOverview(_message.Message):
    __slots__ = ("organization_id", "subscription", "wallet_account_id", "wallet_balance", "amount_due")
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    SUBSCRIPTION_FIELD_NUMBER: _ClassVar[int]
    WALLET_ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    WALLET_BALANCE_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_DUE_FIELD_NUMBER: _ClassVar[int]
    organization_id: str
    subscription: _subscription_pb2.Subscription
    wallet_account_id: str
    wallet_balance: _money_pb2.Money
    amount_due: _money_pb2.Money
    def __init__(self, organization_id: _Optional[str] = ..., subscription: _Optional[_Union[_subscription_pb2.Subscription, _Mapping]] = ..., wallet_account_id: _Optional[str] = ..., wallet_balance: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., amount_due: _Optional[_Union[_money_pb2.Money, _Mapping]] = ...) -> None: ...
