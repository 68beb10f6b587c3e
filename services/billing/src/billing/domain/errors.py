"""Billing domain errors, each with a stable UPPER_SNAKE reason for ErrorInfo."""

from __future__ import annotations


class BillingError(Exception):
    """Root of every billing domain error."""

    reason = "BILLING_ERROR"

    def __init__(self, message: str, **metadata: str) -> None:
        super().__init__(message)
        self.metadata = metadata


class NotFound(BillingError):
    reason = "NOT_FOUND"


class PlanNotFound(NotFound):
    reason = "PLAN_NOT_FOUND"


class SubscriptionNotFound(NotFound):
    reason = "SUBSCRIPTION_NOT_FOUND"


class InvoiceNotFound(NotFound):
    reason = "INVOICE_NOT_FOUND"


class WebhookEndpointNotFound(NotFound):
    reason = "WEBHOOK_ENDPOINT_NOT_FOUND"


class InvalidPlan(BillingError):
    """A plan's prices break an invariant protovalidate cannot express."""

    reason = "INVALID_PLAN"


class UnsupportedCurrency(BillingError):
    reason = "UNSUPPORTED_CURRENCY"


class InvalidPeriod(BillingError):
    reason = "INVALID_PERIOD"


class PlanAlreadyExists(BillingError):
    reason = "PLAN_ALREADY_EXISTS"


class RequestIdReused(BillingError):
    """The same request id came back with a different payload."""

    reason = "REQUEST_ID_REUSED"


class PlanArchived(BillingError):
    reason = "PLAN_ARCHIVED"


class DefaultPlanMissing(BillingError):
    reason = "DEFAULT_PLAN_MISSING"


class ActiveSubscriptionExists(BillingError):
    reason = "ACTIVE_SUBSCRIPTION_EXISTS"


class NoActiveSubscription(BillingError):
    reason = "NO_ACTIVE_SUBSCRIPTION"


class SubscriptionNotActive(BillingError):
    reason = "SUBSCRIPTION_NOT_ACTIVE"


class CurrencyMismatch(BillingError):
    reason = "CURRENCY_MISMATCH"


class SamePlan(BillingError):
    reason = "SAME_PLAN"


class ConcurrentModification(BillingError):
    """The row changed since it was read; the caller may retry the whole command."""

    reason = "CONCURRENT_MODIFICATION"


class InvoiceNotOpen(BillingError):
    reason = "INVOICE_NOT_OPEN"


class InvoiceAlreadyPaid(BillingError):
    reason = "INVOICE_ALREADY_PAID"


class AmountOverflow(BillingError):
    """An amount does not fit the signed 64-bit minor units contracts carry."""

    reason = "AMOUNT_OVERFLOW"


class UsageLimitExceeded(BillingError):
    """Recording the usage would take its period past what an invoice can carry."""

    reason = "USAGE_LIMIT_EXCEEDED"


class UsageQuantityOutOfRange(BillingError):
    reason = "USAGE_QUANTITY_OUT_OF_RANGE"


class UsageTimeOutOfRange(BillingError):
    """The event time is too far in the future, or older than the lateness window."""

    reason = "USAGE_TIME_OUT_OF_RANGE"


class UsagePeriodClosed(BillingError):
    """The event is dated in a period that is already invoiced: it cannot be billed."""

    reason = "USAGE_PERIOD_CLOSED"


class DedupKeyReused(BillingError):
    """The dedup key was recorded with another metric, quantity, time or distinct value."""

    reason = "DEDUP_KEY_REUSED"


class PaymentDeclined(BillingError):
    """The ledger refused the payment; the invoice stays open. `reason` is per instance."""

    reason = "PAYMENT_DECLINED"

    def __init__(self, message: str, reason: str, **metadata: str) -> None:
        super().__init__(message, **metadata)
        self.reason = reason


class LedgerUnavailable(BillingError):
    """The ledger could not be reached in time; safe to retry."""

    reason = "LEDGER_UNAVAILABLE"


class LedgerFailed(LedgerUnavailable):
    """The ledger answered with an error billing has no meaning for (INTERNAL, UNKNOWN ...).

    Retrying is safe: payments are idempotent on the invoice id.
    """

    reason = "LEDGER_FAILED"


class LedgerPermissionDenied(BillingError):
    """The ledger refused the call to the caller (or to billing)."""

    reason = "LEDGER_PERMISSION_DENIED"


class WalletNotFound(BillingError):
    """The organization has no ledger wallet in the invoice's currency."""

    reason = "WALLET_NOT_FOUND"


class DeliveryFailed(BillingError):
    """A webhook endpoint did not accept a delivery (retried later)."""

    reason = "WEBHOOK_DELIVERY_FAILED"


class WebhookUrlRefused(BillingError):
    """A webhook URL billing will not call: a non-public address, or plain http."""

    reason = "WEBHOOK_URL_REFUSED"


class DeliveryNotFound(NotFound):
    reason = "WEBHOOK_DELIVERY_NOT_FOUND"


class BillingPeriodEmpty(BillingError):
    """The open period began at this very instant: there is nothing to close yet."""

    reason = "BILLING_PERIOD_EMPTY"
