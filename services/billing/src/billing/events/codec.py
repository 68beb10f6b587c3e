"""Domain events to envelopes for the outbox: subject, aggregate id and payload message."""

from __future__ import annotations

from google.protobuf.message import Message
from keel.billing.v1 import events_pb2

from billing.contract import (
    invoice_to_proto,
    money_to_proto,
    subscription_to_proto,
    usage_record_to_proto,
)
from billing.domain.events import (
    DomainEvent,
    InvoiceIssued,
    InvoiceMarkedUncollectible,
    InvoicePaid,
    InvoicePaymentFailed,
    SubscriptionCanceled,
    SubscriptionChanged,
    SubscriptionCreated,
    UsageRecorded,
)
from keel_runtime.events import Envelope, new_event
from keel_runtime.timestamps import timestamp

SOURCE = "billing"

SUBSCRIPTION_CREATED = "billing.subscription.created"
SUBSCRIPTION_CHANGED = "billing.subscription.changed"
SUBSCRIPTION_CANCELED = "billing.subscription.canceled"
USAGE_RECORDED = "billing.usage.recorded"
INVOICE_ISSUED = "billing.invoice.issued"
INVOICE_PAID = "billing.invoice.paid"
INVOICE_PAYMENT_FAILED = "billing.invoice.payment_failed"
INVOICE_MARKED_UNCOLLECTIBLE = "billing.invoice.marked_uncollectible"


def _encode(event: DomainEvent) -> tuple[str, str, str, Message]:
    """(type, aggregate id, org id, payload) of a domain event."""
    match event:
        case SubscriptionCreated(s):
            payload: Message = events_pb2.SubscriptionCreated(subscription=subscription_to_proto(s))
            return SUBSCRIPTION_CREATED, s.subscription_id, s.org_id, payload
        case SubscriptionChanged(s, previous, proration):
            payload = events_pb2.SubscriptionChanged(
                subscription=subscription_to_proto(s),
                previous_plan_id=previous,
                proration=money_to_proto(proration),
            )
            return SUBSCRIPTION_CHANGED, s.subscription_id, s.org_id, payload
        case SubscriptionCanceled(s):
            payload = events_pb2.SubscriptionCanceled(subscription=subscription_to_proto(s))
            return SUBSCRIPTION_CANCELED, s.subscription_id, s.org_id, payload
        case UsageRecorded(r):
            payload = events_pb2.UsageRecorded(usage_record=usage_record_to_proto(r))
            return USAGE_RECORDED, r.usage_record_id, r.org_id, payload
        case InvoiceIssued(i):
            payload = events_pb2.InvoiceIssued(invoice=invoice_to_proto(i))
            return INVOICE_ISSUED, i.invoice_id, i.org_id, payload
        case InvoicePaid(i):
            payload = events_pb2.InvoicePaid(
                invoice_id=i.invoice_id,
                amount=money_to_proto(i.total),
                transaction_id=i.payment_transaction_id,
            )
            return INVOICE_PAID, i.invoice_id, i.org_id, payload
        case InvoicePaymentFailed(i, reason):
            payload = events_pb2.InvoicePaymentFailed(
                invoice_id=i.invoice_id,
                amount=money_to_proto(i.total),
                reason=reason,
                attempt=i.payment_attempts,
                next_attempt_time=timestamp(i.next_payment_attempt_time),
            )
            return INVOICE_PAYMENT_FAILED, i.invoice_id, i.org_id, payload
        case InvoiceMarkedUncollectible(i):
            payload = events_pb2.InvoiceMarkedUncollectible(invoice=invoice_to_proto(i))
            return INVOICE_MARKED_UNCOLLECTIBLE, i.invoice_id, i.org_id, payload
    raise TypeError(f"no codec for {type(event).__name__}")


def to_envelope(event: DomainEvent) -> Envelope:
    type_, subject, org_id, payload = _encode(event)
    return new_event(type=type_, source=SOURCE, subject=subject, org_id=org_id, payload=payload)
