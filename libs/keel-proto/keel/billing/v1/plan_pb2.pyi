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

class BillingInterval(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BILLING_INTERVAL_UNSPECIFIED: _ClassVar[BillingInterval]
    BILLING_INTERVAL_MONTH: _ClassVar[BillingInterval]
    BILLING_INTERVAL_YEAR: _ClassVar[BillingInterval]

class PlanState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PLAN_STATE_UNSPECIFIED: _ClassVar[PlanState]
    PLAN_STATE_ACTIVE: _ClassVar[PlanState]
    PLAN_STATE_ARCHIVED: _ClassVar[PlanState]

class UsageAggregation(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    USAGE_AGGREGATION_UNSPECIFIED: _ClassVar[UsageAggregation]
    USAGE_AGGREGATION_SUM: _ClassVar[UsageAggregation]
    USAGE_AGGREGATION_COUNT: _ClassVar[UsageAggregation]
    USAGE_AGGREGATION_MAX: _ClassVar[UsageAggregation]
    USAGE_AGGREGATION_UNIQUE_COUNT: _ClassVar[UsageAggregation]
    USAGE_AGGREGATION_LATEST: _ClassVar[UsageAggregation]
    USAGE_AGGREGATION_MIN: _ClassVar[UsageAggregation]
    USAGE_AGGREGATION_AVG: _ClassVar[UsageAggregation]

class TierMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TIER_MODE_UNSPECIFIED: _ClassVar[TierMode]
    TIER_MODE_GRADUATED: _ClassVar[TierMode]
    TIER_MODE_VOLUME: _ClassVar[TierMode]
BILLING_INTERVAL_UNSPECIFIED: BillingInterval
BILLING_INTERVAL_MONTH: BillingInterval
BILLING_INTERVAL_YEAR: BillingInterval
PLAN_STATE_UNSPECIFIED: PlanState
PLAN_STATE_ACTIVE: PlanState
PLAN_STATE_ARCHIVED: PlanState
USAGE_AGGREGATION_UNSPECIFIED: UsageAggregation
USAGE_AGGREGATION_SUM: UsageAggregation
USAGE_AGGREGATION_COUNT: UsageAggregation
USAGE_AGGREGATION_MAX: UsageAggregation
USAGE_AGGREGATION_UNIQUE_COUNT: UsageAggregation
USAGE_AGGREGATION_LATEST: UsageAggregation
USAGE_AGGREGATION_MIN: UsageAggregation
USAGE_AGGREGATION_AVG: UsageAggregation
TIER_MODE_UNSPECIFIED: TierMode
TIER_MODE_GRADUATED: TierMode
TIER_MODE_VOLUME: TierMode

class Plan(_message.Message):
    __slots__ = ("plan_id", "display_name", "asset", "interval", "prices", "state", "create_time", "archive_time", "is_default")
    PLAN_ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    ASSET_FIELD_NUMBER: _ClassVar[int]
    INTERVAL_FIELD_NUMBER: _ClassVar[int]
    PRICES_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    ARCHIVE_TIME_FIELD_NUMBER: _ClassVar[int]
    IS_DEFAULT_FIELD_NUMBER: _ClassVar[int]
    plan_id: str
    display_name: str
    asset: _asset_pb2.Asset
    interval: BillingInterval
    prices: _containers.RepeatedCompositeFieldContainer[Price]
    state: PlanState
    create_time: _timestamp_pb2.Timestamp
    archive_time: _timestamp_pb2.Timestamp
    is_default: bool
    def __init__(self, plan_id: _Optional[str] = ..., display_name: _Optional[str] = ..., asset: _Optional[_Union[_asset_pb2.Asset, _Mapping]] = ..., interval: _Optional[_Union[BillingInterval, str]] = ..., prices: _Optional[_Iterable[_Union[Price, _Mapping]]] = ..., state: _Optional[_Union[PlanState, str]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., archive_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., is_default: _Optional[bool] = ...) -> None: ...

class Price(_message.Message):
    __slots__ = ("metric", "aggregation", "included_quantity", "description", "flat", "per_unit", "tiered", "package")
    METRIC_FIELD_NUMBER: _ClassVar[int]
    AGGREGATION_FIELD_NUMBER: _ClassVar[int]
    INCLUDED_QUANTITY_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    FLAT_FIELD_NUMBER: _ClassVar[int]
    PER_UNIT_FIELD_NUMBER: _ClassVar[int]
    TIERED_FIELD_NUMBER: _ClassVar[int]
    PACKAGE_FIELD_NUMBER: _ClassVar[int]
    metric: str
    aggregation: UsageAggregation
    included_quantity: int
    description: str
    flat: FlatPrice
    per_unit: PerUnitPrice
    tiered: TieredPrice
    package: PackagePrice
    def __init__(self, metric: _Optional[str] = ..., aggregation: _Optional[_Union[UsageAggregation, str]] = ..., included_quantity: _Optional[int] = ..., description: _Optional[str] = ..., flat: _Optional[_Union[FlatPrice, _Mapping]] = ..., per_unit: _Optional[_Union[PerUnitPrice, _Mapping]] = ..., tiered: _Optional[_Union[TieredPrice, _Mapping]] = ..., package: _Optional[_Union[PackagePrice, _Mapping]] = ...) -> None: ...

class FlatPrice(_message.Message):
    __slots__ = ("amount",)
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    amount: int
    def __init__(self, amount: _Optional[int] = ...) -> None: ...

class PerUnitPrice(_message.Message):
    __slots__ = ("unit_amount",)
    UNIT_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    unit_amount: int
    def __init__(self, unit_amount: _Optional[int] = ...) -> None: ...

class TieredPrice(_message.Message):
    __slots__ = ("mode", "tiers")
    MODE_FIELD_NUMBER: _ClassVar[int]
    TIERS_FIELD_NUMBER: _ClassVar[int]
    mode: TierMode
    tiers: _containers.RepeatedCompositeFieldContainer[Tier]
    def __init__(self, mode: _Optional[_Union[TierMode, str]] = ..., tiers: _Optional[_Iterable[_Union[Tier, _Mapping]]] = ...) -> None: ...

class Tier(_message.Message):
    __slots__ = ("up_to", "unit_amount", "flat_amount")
    UP_TO_FIELD_NUMBER: _ClassVar[int]
    UNIT_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    FLAT_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    up_to: int
    unit_amount: int
    flat_amount: int
    def __init__(self, up_to: _Optional[int] = ..., unit_amount: _Optional[int] = ..., flat_amount: _Optional[int] = ...) -> None: ...

class PackagePrice(_message.Message):
    __slots__ = ("package_size", "package_amount")
    PACKAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PACKAGE_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    package_size: int
    package_amount: int
    def __init__(self, package_size: _Optional[int] = ..., package_amount: _Optional[int] = ...) -> None: ...
