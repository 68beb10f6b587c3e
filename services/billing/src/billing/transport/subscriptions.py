"""keel.billing.v1.SubscriptionService servicer."""

from __future__ import annotations

from typing import Any

from keel.billing.v1 import subscription_service_pb2 as pb
from keel.billing.v1 import subscription_service_pb2_grpc

from billing import contract
from billing.app.subscriptions import SubscriptionHandlers
from billing.transport import mapping
from keel_runtime.caller import current_caller


class SubscriptionServicer(subscription_service_pb2_grpc.SubscriptionServiceServicer):  # type: ignore[misc]
    def __init__(self, handlers: SubscriptionHandlers) -> None:
        self._handlers = handlers

    async def CreateSubscription(
        self, request: pb.CreateSubscriptionRequest, context: Any
    ) -> pb.CreateSubscriptionResponse:
        subscription = await self._handlers.create(
            mapping.create_subscription(request, current_caller())
        )
        return pb.CreateSubscriptionResponse(
            subscription=contract.subscription_to_proto(subscription)
        )

    async def GetSubscription(
        self, request: pb.GetSubscriptionRequest, context: Any
    ) -> pb.GetSubscriptionResponse:
        subscription = await self._handlers.get(mapping.get_subscription(request, current_caller()))
        return pb.GetSubscriptionResponse(subscription=contract.subscription_to_proto(subscription))

    async def ListSubscriptions(
        self, request: pb.ListSubscriptionsRequest, context: Any
    ) -> pb.ListSubscriptionsResponse:
        page = await self._handlers.list(mapping.list_subscriptions(request, current_caller()))
        return pb.ListSubscriptionsResponse(
            subscriptions=[contract.subscription_to_proto(s) for s in page.subscriptions],
            next_page_token=page.next_page_token,
        )

    async def ChangePlan(
        self, request: pb.ChangePlanRequest, context: Any
    ) -> pb.ChangePlanResponse:
        subscription, proration = await self._handlers.change_plan(
            mapping.change_plan(request, current_caller())
        )
        return pb.ChangePlanResponse(
            subscription=contract.subscription_to_proto(subscription),
            proration=contract.money_to_proto(proration),
        )

    async def CancelSubscription(
        self, request: pb.CancelSubscriptionRequest, context: Any
    ) -> pb.CancelSubscriptionResponse:
        subscription = await self._handlers.cancel(
            mapping.cancel_subscription(request, current_caller())
        )
        return pb.CancelSubscriptionResponse(
            subscription=contract.subscription_to_proto(subscription)
        )
