"""The pure reads run as the server wires them: each statement its own read-only transaction,
sent with its organization in one round trip, with no BEGIN, SET LOCAL or ROLLBACK."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from billing.app.commands import (
    CreateSubscription,
    CreateWebhookEndpoint,
    GetBillingOverview,
    GetInvoice,
    GetPlan,
    GetSubscription,
    GetUsageSummary,
    ListInvoices,
    ListPlans,
    ListSubscriptions,
    ListWebhookDeliveries,
    ListWebhookEndpoints,
    RecordUsage,
    UsageInput,
)
from billing.bootstrap import Handlers
from billing.domain.errors import InvoiceNotFound
from keel_runtime.caller import Caller
from keel_runtime.testing import messages_sent

pytestmark = pytest.mark.integration


def owner(org_id: str) -> Caller:
    return Caller(subject="u1", org_id=org_id, roles=frozenset({"OWNER"}))


async def test_the_reads_open_no_transaction(engine: AsyncEngine, handlers: Handlers) -> None:
    me = owner(str(uuid.uuid4()))
    with messages_sent(engine) as written:
        subscription = await handlers.subscriptions.create(
            CreateSubscription(me, "free", str(uuid.uuid4()))
        )
        await handlers.usage.record(RecordUsage(me, UsageInput("items.confirmed", 3, "k1")))
        endpoint, _ = await handlers.webhooks.create(
            CreateWebhookEndpoint(me, "https://hooks.example/a", request_id=str(uuid.uuid4()))
        )
    assert "Query" in written  # the writes' transactions: BEGIN, COMMIT

    with messages_sent(engine) as read:
        assert (await handlers.plans.get(GetPlan(me, "free"))).plan_id == "free"
        assert (await handlers.plans.list(ListPlans(me))).plans
        sub_id = subscription.subscription_id
        assert (await handlers.subscriptions.get(GetSubscription(me, sub_id))) == subscription
        assert (await handlers.subscriptions.list(ListSubscriptions(me))).subscriptions
        summary = await handlers.usage.summary(GetUsageSummary(me, ("items.confirmed",)))
        assert [m.total for m in summary.metrics] == [3]
        assert (await handlers.invoices.list(ListInvoices(me))).invoices == []
        with pytest.raises(InvoiceNotFound):
            await handlers.invoices.get(GetInvoice(me, str(uuid.uuid4())))
        overview = await handlers.overview.get(GetBillingOverview(me))
        assert overview.subscription == subscription
        assert (await handlers.webhooks.list(ListWebhookEndpoints(me))).endpoints
        deliveries = ListWebhookDeliveries(me, endpoint.webhook_endpoint_id)
        assert (await handlers.webhooks.list_deliveries(deliveries)).deliveries == []
    assert "Execute" in read
    assert "Query" not in read
