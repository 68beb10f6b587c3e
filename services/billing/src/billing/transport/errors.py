"""Billing domain errors to gRPC status codes (looked up along the exception's MRO)."""

from __future__ import annotations

import grpc

from billing.domain import errors as e
from keel_runtime.errors import ErrorMap

ERROR_MAP: ErrorMap = {
    e.NotFound: grpc.StatusCode.NOT_FOUND,
    e.InvalidPlan: grpc.StatusCode.INVALID_ARGUMENT,
    e.UnsupportedCurrency: grpc.StatusCode.INVALID_ARGUMENT,
    e.InvalidPeriod: grpc.StatusCode.INVALID_ARGUMENT,
    e.WebhookUrlRefused: grpc.StatusCode.INVALID_ARGUMENT,
    e.PlanAlreadyExists: grpc.StatusCode.ALREADY_EXISTS,
    e.RequestIdReused: grpc.StatusCode.ALREADY_EXISTS,
    e.DedupKeyReused: grpc.StatusCode.ALREADY_EXISTS,
    e.UsageTimeOutOfRange: grpc.StatusCode.INVALID_ARGUMENT,
    e.UsagePeriodClosed: grpc.StatusCode.FAILED_PRECONDITION,
    e.PlanArchived: grpc.StatusCode.FAILED_PRECONDITION,
    e.DefaultPlanMissing: grpc.StatusCode.FAILED_PRECONDITION,
    e.ActiveSubscriptionExists: grpc.StatusCode.FAILED_PRECONDITION,
    e.NoActiveSubscription: grpc.StatusCode.FAILED_PRECONDITION,
    e.SubscriptionNotActive: grpc.StatusCode.FAILED_PRECONDITION,
    e.CurrencyMismatch: grpc.StatusCode.FAILED_PRECONDITION,
    e.SamePlan: grpc.StatusCode.FAILED_PRECONDITION,
    e.InvoiceNotOpen: grpc.StatusCode.FAILED_PRECONDITION,
    e.BillingPeriodEmpty: grpc.StatusCode.FAILED_PRECONDITION,
    e.InvoiceAlreadyPaid: grpc.StatusCode.FAILED_PRECONDITION,
    e.AmountOverflow: grpc.StatusCode.FAILED_PRECONDITION,
    e.PaymentDeclined: grpc.StatusCode.FAILED_PRECONDITION,
    e.UsageLimitExceeded: grpc.StatusCode.FAILED_PRECONDITION,
    e.UsageQuantityOutOfRange: grpc.StatusCode.INVALID_ARGUMENT,
    e.WalletNotFound: grpc.StatusCode.FAILED_PRECONDITION,
    e.ConcurrentModification: grpc.StatusCode.ABORTED,
    e.LedgerUnavailable: grpc.StatusCode.UNAVAILABLE,
    e.LedgerPermissionDenied: grpc.StatusCode.PERMISSION_DENIED,
}
