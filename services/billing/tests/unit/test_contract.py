"""Every RPC of every billing proto service is implemented, and each servicer is registered."""

from __future__ import annotations

import pytest
from keel.billing.v1 import (
    billing_overview_service_pb2,
    invoice_service_pb2,
    plan_service_pb2,
    subscription_service_pb2,
    usage_service_pb2,
    webhook_service_pb2,
)

from billing.transport.invoices import InvoiceServicer
from billing.transport.overview import BillingOverviewServicer
from billing.transport.plans import PlanServicer
from billing.transport.subscriptions import SubscriptionServicer
from billing.transport.usage import UsageServicer
from billing.transport.webhooks import WebhookServicer
from keel_runtime import access

PACKAGE = "keel.billing.v1."
SERVICES = [
    (plan_service_pb2, "PlanService", PlanServicer),
    (subscription_service_pb2, "SubscriptionService", SubscriptionServicer),
    (usage_service_pb2, "UsageService", UsageServicer),
    (invoice_service_pb2, "InvoiceService", InvoiceServicer),
    (webhook_service_pb2, "WebhookService", WebhookServicer),
    (billing_overview_service_pb2, "BillingOverviewService", BillingOverviewServicer),
]


@pytest.mark.parametrize(("module", "name", "servicer"), SERVICES)
def test_every_rpc_is_implemented(module: object, name: str, servicer: type) -> None:
    service = module.DESCRIPTOR.services_by_name[name]  # type: ignore[attr-defined]
    generated_base = servicer.__mro__[1]
    for method in service.methods:
        assert getattr(servicer, method.name) is not getattr(generated_base, method.name), (
            f"{name}.{method.name} is not implemented"
        )


def test_every_service_of_the_contract_has_a_servicer() -> None:
    # Health and reflection name what the servicers register, so all must be here.
    contract = {s.full_name for s in access.keel_services() if s.full_name.startswith(PACKAGE)}
    assert contract == {f"{PACKAGE}{name}" for _, name, _ in SERVICES}
