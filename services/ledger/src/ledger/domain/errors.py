"""Ledger domain errors, each with a stable UPPER_SNAKE reason."""

from __future__ import annotations


class LedgerError(Exception):
    """Root of every ledger domain error."""

    reason = "LEDGER_ERROR"

    def __init__(self, message: str, **metadata: str) -> None:
        super().__init__(message)
        self.metadata = metadata


class NotFound(LedgerError):
    reason = "NOT_FOUND"


class AccountNotFound(NotFound):
    reason = "ACCOUNT_NOT_FOUND"


class TransactionNotFound(NotFound):
    reason = "TRANSACTION_NOT_FOUND"


class InvalidRequest(LedgerError):
    """The request is malformed in a way the contract's validation cannot express."""

    reason = "INVALID_REQUEST"


class UnbalancedTransaction(InvalidRequest):
    reason = "UNBALANCED_TRANSACTION"


class AccountsMustBeDifferent(InvalidRequest):
    """One account is debited and credited by the same transaction (TigerBeetle refuses it
    as ``accounts_must_be_different``): it moves nothing, yet it could pass a bound check."""

    reason = "ACCOUNTS_MUST_BE_DIFFERENT"


class AssetMismatch(InvalidRequest):
    reason = "ASSET_MISMATCH"


class InvalidExpiry(InvalidRequest):
    reason = "INVALID_EXPIRY"


class Conflict(LedgerError):
    reason = "CONFLICT"


class RequestIdReused(Conflict):
    """The request_id was used before with a different payload."""

    reason = "REQUEST_ID_REUSED"


class AccountAlreadyExists(Conflict):
    reason = "ACCOUNT_ALREADY_EXISTS"


class PreconditionFailed(LedgerError):
    reason = "FAILED_PRECONDITION"


class InsufficientFunds(PreconditionFailed):
    """Debits would exceed credits plus the overdraft limit."""

    reason = "INSUFFICIENT_FUNDS"


class ExceedsDebits(PreconditionFailed):
    """Credits would exceed debits on an account bounded that way."""

    reason = "EXCEEDS_DEBITS"


class AmountOverflow(PreconditionFailed):
    reason = "AMOUNT_OVERFLOW"


class AssetScaleMismatch(PreconditionFailed):
    """An asset code already exists in the ledger with another scale."""

    reason = "ASSET_SCALE_MISMATCH"


class InvalidBalanceBound(PreconditionFailed):
    reason = "INVALID_BALANCE_BOUND"


class TransactionNotPending(PreconditionFailed):
    reason = "TRANSACTION_NOT_PENDING"


class PendingExpired(PreconditionFailed):
    reason = "PENDING_EXPIRED"


class PartialPostUnsupported(PreconditionFailed):
    reason = "PARTIAL_POST_UNSUPPORTED"


class AmountExceedsPending(PreconditionFailed):
    reason = "AMOUNT_EXCEEDS_PENDING"


class TransactionNotReversible(PreconditionFailed):
    reason = "TRANSACTION_NOT_REVERSIBLE"


class AlreadyReversed(PreconditionFailed):
    reason = "ALREADY_REVERSED"


class Forbidden(LedgerError):
    """Root of what only the platform may do: done by a customer, it could create money.

    (A caller lacking a role, a scope or an organization is refused by the runtime's caller
    model, ``keel_runtime.caller``, before any of these.)
    """

    reason = "FORBIDDEN"


class RequiresService(Forbidden):
    """Only an internal service may do this: done by a customer it could create money.

    Customers asking for it (open the platform's books, open or debit an account not bounded
    by its credits) are refused as Forbidden, not told of a failed precondition.
    """

    reason = "REQUIRES_SERVICE"


class SystemAccountRequiresService(RequiresService):
    """Accounts of the platform's books (funding, revenue, ...) are opened by services."""

    reason = "SYSTEM_ACCOUNT_REQUIRES_SERVICE"


class AssetRequiresService(RequiresService):
    """A new asset at a scale other than its currency's is registered by services: the first
    account in a code fixes its scale for every organization of the ledger."""

    reason = "ASSET_REQUIRES_SERVICE"


class UnboundedAccountRequiresService(RequiresService):
    """An account whose debits are not bounded by its credits is opened by services."""

    reason = "UNBOUNDED_ACCOUNT_REQUIRES_SERVICE"


class OverdraftRequiresService(RequiresService):
    """An overdraft limit is credit the platform grants; a customer cannot grant it."""

    reason = "OVERDRAFT_REQUIRES_SERVICE"


class UnboundedDebitRequiresService(RequiresService):
    """Debiting an account whose debits are not bounded by its credits is for services."""

    reason = "UNBOUNDED_DEBIT_REQUIRES_SERVICE"
