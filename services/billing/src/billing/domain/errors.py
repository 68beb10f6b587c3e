"""Billing domain errors, each with a stable UPPER_SNAKE reason for ErrorInfo."""

from __future__ import annotations


class BillingError(Exception):
    """Root of every billing domain error."""

    reason = "BILLING_ERROR"

    def __init__(self, message: str, **metadata: str) -> None:
        super().__init__(message)
        self.metadata = metadata


# Categories, named alike in every service: transport/errors.py maps these (by MRO) to
# gRPC status codes, never a concrete error. Only NotFound declares a reason of its own;
# the others are never raised themselves.
class NotFound(BillingError):
    reason = "NOT_FOUND"


class InvalidRequest(BillingError):
    """The request is malformed in a way the contract's validation cannot express."""


class Conflict(BillingError):
    """What the request would create exists already, or its id was used for another."""


class PreconditionFailed(BillingError):
    """The request is well formed but the account's billing state does not allow it now."""


class Forbidden(BillingError):
    """Refused to the caller (by the ledger, on billing's behalf)."""


class Aborted(BillingError):
    """The command lost a race with another; the caller may retry the whole command."""


class Unavailable(BillingError):
    """Something billing depends on failed; trying again later may succeed."""


class PlanNotFound(NotFound):
    reason = "PLAN_NOT_FOUND"


class SubscriptionNotFound(NotFound):
    reason = "SUBSCRIPTION_NOT_FOUND"


class InvoiceNotFound(NotFound):
    reason = "INVOICE_NOT_FOUND"


class WebhookEndpointNotFound(NotFound):
    reason = "WEBHOOK_ENDPOINT_NOT_FOUND"


class InvalidPlan(InvalidRequest):
    """A plan's prices break an invariant protovalidate cannot express."""

    reason = "INVALID_PLAN"


class UnsupportedCurrency(InvalidRequest):
    reason = "UNSUPPORTED_CURRENCY"


class InvalidPeriod(InvalidRequest):
    reason = "INVALID_PERIOD"


class PlanAlreadyExists(Conflict):
    reason = "PLAN_ALREADY_EXISTS"


class RequestIdReused(Conflict):
    """The same request id came back with a different payload."""

    reason = "REQUEST_ID_REUSED"


class PlanArchived(PreconditionFailed):
    reason = "PLAN_ARCHIVED"


class DefaultPlanMissing(PreconditionFailed):
    reason = "DEFAULT_PLAN_MISSING"


class ActiveSubscriptionExists(PreconditionFailed):
    reason = "ACTIVE_SUBSCRIPTION_EXISTS"


class NoActiveSubscription(PreconditionFailed):
    reason = "NO_ACTIVE_SUBSCRIPTION"


class SubscriptionNotActive(PreconditionFailed):
    reason = "SUBSCRIPTION_NOT_ACTIVE"


class CurrencyMismatch(PreconditionFailed):
    reason = "CURRENCY_MISMATCH"


class SamePlan(PreconditionFailed):
    reason = "SAME_PLAN"


class ConcurrentModification(Aborted):
    """The row changed since it was read; the caller may retry the whole command."""

    reason = "CONCURRENT_MODIFICATION"


class InvoiceNotOpen(PreconditionFailed):
    reason = "INVOICE_NOT_OPEN"


class InvoiceAlreadyPaid(PreconditionFailed):
    reason = "INVOICE_ALREADY_PAID"


class AmountOverflow(PreconditionFailed):
    """An amount does not fit the signed 64-bit minor units contracts carry."""

    reason = "AMOUNT_OVERFLOW"


class UsageLimitExceeded(PreconditionFailed):
    """Recording the usage would take its period past what an invoice can carry."""

    reason = "USAGE_LIMIT_EXCEEDED"


class UsageQuantityOutOfRange(InvalidRequest):
    reason = "USAGE_QUANTITY_OUT_OF_RANGE"


class UsageTimeOutOfRange(InvalidRequest):
    """The event time is too far in the future, or older than the lateness window."""

    reason = "USAGE_TIME_OUT_OF_RANGE"


class UsagePeriodClosed(PreconditionFailed):
    """The event is dated in a period that is already invoiced: it cannot be billed."""

    reason = "USAGE_PERIOD_CLOSED"


class DedupKeyReused(Conflict):
    """The dedup key was recorded with another metric, quantity, time or distinct value."""

    reason = "DEDUP_KEY_REUSED"


class PaymentDeclined(PreconditionFailed):
    """The ledger refused the payment; the invoice stays open. `reason` is per instance."""

    reason = "PAYMENT_DECLINED"

    def __init__(self, message: str, reason: str, **metadata: str) -> None:
        super().__init__(message, **metadata)
        self.reason = reason


class LedgerUnavailable(Unavailable):
    """The ledger could not be reached in time; safe to retry."""

    reason = "LEDGER_UNAVAILABLE"


class LedgerFailed(LedgerUnavailable):
    """The ledger answered with an error billing has no meaning for (INTERNAL, UNKNOWN ...).

    Retrying is safe: payments are idempotent on the invoice id.
    """

    reason = "LEDGER_FAILED"


class LedgerPermissionDenied(Forbidden):
    """The ledger refused the call to the caller (or to billing)."""

    reason = "LEDGER_PERMISSION_DENIED"


class WalletNotFound(PreconditionFailed):
    """The organization has no ledger wallet in the invoice's currency."""

    reason = "WALLET_NOT_FOUND"


class DeliveryFailed(Unavailable):
    """A webhook endpoint did not accept a delivery (retried later)."""

    reason = "WEBHOOK_DELIVERY_FAILED"


class WebhookUrlRefused(InvalidRequest):
    """A webhook URL billing will not call: a non-public address, or plain http."""

    reason = "WEBHOOK_URL_REFUSED"


class DeliveryNotFound(NotFound):
    reason = "WEBHOOK_DELIVERY_NOT_FOUND"


class BillingPeriodEmpty(PreconditionFailed):
    """The open period began at this very instant: there is nothing to close yet."""

    reason = "BILLING_PERIOD_EMPTY"
