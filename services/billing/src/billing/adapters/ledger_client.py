"""Outbound gRPC adapter for the ledger: wallet lookup and invoice payment (the Ledger port).

Reads run as the caller (request id, trace and principal forwarded by the runtime channel);
payments run as the billing service for the invoice's organization, because moving money
between an organization's wallet and the platform's revenue account is billing's act, not
the member's. Every call has a deadline; an unreachable ledger is LedgerUnavailable.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import grpc
from google.protobuf import timestamp_pb2
from google.rpc import error_details_pb2, status_pb2
from keel.ledger.v1 import (
    account_service_pb2,
    account_service_pb2_grpc,
    resources_pb2,
    transaction_service_pb2,
    transaction_service_pb2_grpc,
)
from keel.type.v1 import asset_pb2

from billing.app.ports import Wallet
from billing.domain.errors import (
    BillingError,
    LedgerFailed,
    LedgerPermissionDenied,
    LedgerUnavailable,
    PaymentDeclined,
)
from billing.domain.invoice import Invoice
from billing.domain.money import currency_scale
from keel_runtime.clients import as_service
from keel_runtime.context import current_principal

log = logging.getLogger(__name__)

SERVICE_SUBJECT = "billing"
PLATFORM_ORG_ID = "00000000-0000-0000-0000-000000000000"
_RETRYABLE = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.CANCELLED,
        grpc.StatusCode.ABORTED,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
    }
)
# How far before the invoice's issue the reconciler looks for its payment (clock skew
# between billing and the ledger), and how many pages of the wallet's history it reads.
_LOOKBACK = timedelta(hours=1)
_MAX_PAGES = 20
_DENIED = frozenset({grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.UNAUTHENTICATED})
# A payment the ledger refused on its merits: the invoice stays open with the reason.
_DECLINED = frozenset(
    {
        grpc.StatusCode.FAILED_PRECONDITION,
        grpc.StatusCode.NOT_FOUND,
        grpc.StatusCode.ALREADY_EXISTS,
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.OUT_OF_RANGE,
    }
)


def error_reason(error: grpc.aio.AioRpcError) -> str:
    """The ErrorInfo reason of a rich status, or the status code name."""
    for key, value in error.trailing_metadata() or ():
        if key == "grpc-status-details-bin" and isinstance(value, bytes):
            status = status_pb2.Status.FromString(value)
            for detail in status.details:
                info = error_details_pb2.ErrorInfo()
                if detail.Unpack(info) and info.reason:
                    return str(info.reason)
    return str(error.code().name)


def ledger_error(error: grpc.aio.AioRpcError) -> BillingError:
    """The billing error for a ledger status, by status code (reasons travel in metadata)."""
    code = error.code()
    if code in _RETRYABLE:
        return LedgerUnavailable("the ledger is unavailable, retry later")
    if code in _DENIED:
        return LedgerPermissionDenied(
            "the ledger refused the call", ledger_reason=error_reason(error)
        )
    log.error("unexpected ledger error", extra={"code": code.name, "details": error.details()})
    return LedgerFailed("the ledger failed to answer, retry later", ledger_code=code.name)


def payment_request_id(invoice: Invoice) -> str:
    """The ledger request id of an invoice's payment (scoped by the ledger to billing)."""
    return f"invoice:{invoice.invoice_id}"


class GrpcLedger:
    """The Ledger port over keel.ledger.v1 AccountService and TransactionService."""

    def __init__(
        self,
        channel: Any,
        *,
        timeout_s: float,
        revenue_account_id: str = "",
        platform_org_id: str = PLATFORM_ORG_ID,
    ) -> None:
        self._accounts = account_service_pb2_grpc.AccountServiceStub(channel)
        self._transactions = transaction_service_pb2_grpc.TransactionServiceStub(channel)
        self._timeout = timeout_s
        self._revenue = {"*": revenue_account_id} if revenue_account_id else {}
        self._platform_org_id = platform_org_id

    async def find_wallet(self, org_id: str, currency: str | None) -> Wallet | None:
        request = account_service_pb2.ListAccountsRequest(
            kind=resources_pb2.ACCOUNT_KIND_WALLET, asset_code=currency or "", page_size=1
        )
        # Inside an RPC the caller's principal travels on; background work acts as billing.
        metadata = None if current_principal() else as_service(org_id)
        try:
            listed = await self._accounts.ListAccounts(
                request, timeout=self._timeout, metadata=metadata
            )
            if not listed.accounts:
                return None
            account = listed.accounts[0]
            balance = await self._accounts.GetBalance(
                account_service_pb2.GetBalanceRequest(account_id=account.account_id),
                timeout=self._timeout,
                metadata=metadata,
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise ledger_error(exc) from exc
        return Wallet(
            account_id=account.account_id,
            currency=account.asset.code,
            scale=account.asset.scale,
            available_minor=balance.balance.available,
        )

    async def _revenue_account(self, currency: str) -> str:
        """Billing's revenue account in `currency`, opened on first use (idempotently)."""
        known = self._revenue.get(currency) or self._revenue.get("*")
        if known:
            return known
        response = await self._accounts.CreateAccount(
            account_service_pb2.CreateAccountRequest(
                request_id=f"billing-revenue-{currency}",
                organization_id=self._platform_org_id,
                kind=resources_pb2.ACCOUNT_KIND_REVENUE,
                asset=asset_pb2.Asset(code=currency, scale=currency_scale(currency)),
                metadata={"owner": "billing"},
            ),
            timeout=self._timeout,
            metadata=as_service(self._platform_org_id),
        )
        account_id = str(response.account.account_id)
        self._revenue[currency] = account_id
        return account_id

    async def pay_invoice(self, invoice: Invoice, wallet: Wallet) -> str:
        amount = invoice.total_minor
        try:
            revenue = await self._revenue_account(invoice.currency)
            response = await self._transactions.CreateTransaction(
                transaction_service_pb2.CreateTransactionRequest(
                    # The ledger de-duplicates on it: a retried payment never charges twice.
                    request_id=payment_request_id(invoice),
                    postings=[
                        resources_pb2.Posting(
                            account_id=wallet.account_id,
                            side=resources_pb2.POSTING_SIDE_DEBIT,
                            amount=amount,
                            asset_code=invoice.currency,
                        ),
                        resources_pb2.Posting(
                            account_id=revenue,
                            side=resources_pb2.POSTING_SIDE_CREDIT,
                            amount=amount,
                            asset_code=invoice.currency,
                        ),
                    ],
                    metadata={"invoice_id": invoice.invoice_id, "source": SERVICE_SUBJECT},
                ),
                timeout=self._timeout,
                metadata=as_service(invoice.org_id),
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() in _DECLINED:
                # The ledger's reason (e.g. INSUFFICIENT_FUNDS) is kept, else the code name.
                raise PaymentDeclined(
                    "the ledger declined the payment",
                    error_reason(exc),
                    invoice_id=invoice.invoice_id,
                ) from exc
            raise ledger_error(exc) from exc
        return str(response.transaction.transaction_id)

    async def find_payment(self, invoice: Invoice) -> str | None:
        """Search the wallet's transactions since the invoice was issued for the payment's
        request id (the ledger offers no lookup by request id)."""
        wallet = await self.find_wallet(invoice.org_id, invoice.currency)
        if wallet is None:
            return None
        start = timestamp_pb2.Timestamp()
        start.FromDatetime(invoice.issue_time - _LOOKBACK)
        wanted = payment_request_id(invoice)
        token = ""
        for _ in range(_MAX_PAGES):
            try:
                page = await self._transactions.ListTransactions(
                    transaction_service_pb2.ListTransactionsRequest(
                        account_id=wallet.account_id,
                        start_time=start,
                        page_size=500,
                        page_token=token,
                    ),
                    timeout=self._timeout,
                    metadata=as_service(invoice.org_id),
                )
            except grpc.aio.AioRpcError as exc:
                raise ledger_error(exc) from exc
            for transaction in page.transactions:
                if transaction.request_id == wanted and _moved_money(transaction):
                    return str(transaction.transaction_id)
            token = page.next_page_token
            if not token:
                return None
        # Too busy a wallet to tell: an answer of "not paid" could charge twice later.
        raise LedgerFailed("the wallet's history is too long to search", ledger_code="PAGES")

    async def payment_exists(self, invoice: Invoice) -> bool:
        try:
            found = await self._transactions.GetTransaction(
                transaction_service_pb2.GetTransactionRequest(
                    transaction_id=invoice.payment_transaction_id
                ),
                timeout=self._timeout,
                metadata=as_service(invoice.org_id),
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT):
                return False
            raise ledger_error(exc) from exc
        transaction = found.transaction
        return transaction.request_id == payment_request_id(invoice) and _moved_money(transaction)


def _moved_money(transaction: Any) -> bool:
    return bool(transaction.state == resources_pb2.TRANSACTION_STATE_POSTED)
