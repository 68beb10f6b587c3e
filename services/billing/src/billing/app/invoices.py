"""Invoice commands and queries: close a period, get, list, pay through the ledger, void."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import timedelta

from billing.app.access import require_billing_manager
from billing.app.closing import close_open_period
from billing.app.commands import (
    CloseBillingPeriod,
    GetInvoice,
    ListInvoices,
    PayInvoice,
    VoidInvoice,
)
from billing.app.ports import Clock, IdFactory, Ledger, UnitOfWork, UnitOfWorkFactory
from billing.app.request_ids import claim
from billing.domain.errors import (
    BillingPeriodEmpty,
    InvoiceNotFound,
    PaymentDeclined,
    SubscriptionNotFound,
    WalletNotFound,
)
from billing.domain.events import (
    InvoiceMarkedUncollectible,
    InvoicePaid,
    InvoicePaymentFailed,
)
from billing.domain.invoice import DEFAULT_RETRY_SCHEDULE, Invoice, InvoiceState
from keel_runtime import paging

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class InvoicePage:
    invoices: list[Invoice]
    next_page_token: str


class InvoiceHandlers:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        ledger: Ledger,
        clock: Clock,
        new_id: IdFactory,
        *,
        retry_schedule: Sequence[timedelta] = DEFAULT_RETRY_SCHEDULE,
        reads: UnitOfWorkFactory | None = None,
    ) -> None:
        self._uow = uow
        # Pure reads go through units of work without a transaction of their own (read_only).
        self._reads = reads or uow
        self._ledger = ledger
        self._clock = clock
        self._new_id = new_id
        self._retry_schedule = tuple(retry_schedule)

    async def close_period(self, command: CloseBillingPeriod) -> Invoice:
        org_id = require_billing_manager(command.caller)
        subscription_id, request_id = command.subscription_id, command.request_id
        async with self._uow() as uow:
            invoice_id = self._new_id()
            first = await claim(
                uow,
                org_id,
                request_id,
                "CloseBillingPeriod",
                {"subscription_id": subscription_id},
                invoice_id,
            )
            if first is not None:
                return await _get(uow, org_id, first)
            invoice = await self.close_period_in(uow, org_id, subscription_id, invoice_id)
            if invoice.invoice_id != invoice_id:
                # The final invoice of a cancel: a replay of this request must find it.
                await uow.idempotency.resolve(org_id, request_id, invoice.invoice_id)
            await uow.commit()
            return invoice

    async def close_period_in(
        self, uow: UnitOfWork, org_id: str, subscription_id: str, invoice_id: str
    ) -> Invoice:
        """Price the open period into an invoice and open the next period (caller commits).

        A subscription canceled now was closed by its final invoice: that is the answer.
        """
        subscription = await uow.subscriptions.get(org_id, subscription_id, for_update=True)
        if subscription is None:
            raise SubscriptionNotFound("subscription not found", subscription_id=subscription_id)
        if not subscription.active:
            final = await uow.invoices.final_of(subscription)
            if final is not None:
                return final
        now = self._clock()
        if subscription.closing_end(now) <= subscription.current_period_start:
            # An empty period: an invoice for it would charge a whole flat fee for nothing
            # and start at the same instant as the next one (which could then never close).
            raise BillingPeriodEmpty(
                "the billing period began at this instant; there is nothing to close yet",
                subscription_id=subscription_id,
            )
        invoice, _ = await close_open_period(uow, subscription, invoice_id, now, final=False)
        return invoice

    async def get(self, query: GetInvoice) -> Invoice:
        async with self._reads() as uow:
            return await _get(uow, query.caller.require_org(), query.invoice_id)

    async def list(self, query: ListInvoices) -> InvoicePage:
        limit = paging.page_size(query.page_size)
        org_id, state = query.caller.require_org(), query.state
        digest = paging.query_digest("ListInvoices", org_id, state)
        before = paging.decode_time_key(query.page_token, digest)
        async with self._reads() as uow:
            rows = await uow.invoices.list(org_id, state=state, before=before, limit=limit + 1)
        token = ""
        if len(rows) > limit:
            rows = rows[:limit]
            token = paging.encode_time_key(rows[-1].issue_time, rows[-1].invoice_id, digest)
        return InvoicePage(rows, token)

    async def pay(self, command: PayInvoice) -> Invoice:
        """Pay from the wallet. No transaction is held open across the ledger call; the
        ledger's idempotency on the invoice id makes a retry after any failure safe."""
        org_id = require_billing_manager(command.caller)
        invoice_id = command.invoice_id
        async with self._uow() as uow:
            invoice = await _get(uow, org_id, invoice_id)
        if invoice.state is InvoiceState.PAID:
            return invoice
        invoice.require_payable()
        transaction_id = ""
        try:
            if invoice.total_minor > 0:
                if (already := await self._begin_attempt(org_id, invoice_id)) is not None:
                    return already  # a concurrent retry paid it since we read it
                wallet = await self._ledger.find_wallet(org_id, invoice.currency)
                if wallet is None:
                    raise WalletNotFound(
                        "the organization has no wallet in the invoice currency",
                        currency=invoice.currency,
                    )
                transaction_id = await self._ledger.pay_invoice(invoice, wallet)
        except (PaymentDeclined, WalletNotFound) as exc:
            await self._record_failure(org_id, invoice_id, exc.reason)
            raise
        async with self._uow() as uow:
            current = await _get(uow, org_id, invoice_id, for_update=True)
            if current.state is InvoiceState.PAID:
                return current
            if current.state is InvoiceState.VOID:
                log.warning("invoice %s was voided while its payment went through", invoice_id)
            paid = await uow.invoices.save(current.mark_paid(transaction_id, self._clock()))
            uow.record(InvoicePaid(paid))
            await uow.commit()
            return paid

    async def _begin_attempt(self, org_id: str, invoice_id: str) -> Invoice | None:
        """Leave a trace before money may move: if billing dies between the ledger's answer
        and the local commit, the payment reconciler finds the invoice by it. Returns the
        invoice when a concurrent payment already settled it (nothing left to do)."""
        async with self._uow() as uow:
            current = await _get(uow, org_id, invoice_id, for_update=True)
            if current.state is InvoiceState.PAID:
                return current
            current.require_payable()
            if current.payment_started_time is None:
                await uow.invoices.save(replace(current, payment_started_time=self._clock()))
                await uow.commit()
        return None

    async def _record_failure(self, org_id: str, invoice_id: str, reason: str) -> None:
        async with self._uow() as uow:
            current = await _get(uow, org_id, invoice_id, for_update=True)
            if current.state is not InvoiceState.OPEN:
                return
            failed = current.mark_payment_failed(reason, self._clock(), self._retry_schedule)
            await uow.invoices.save(failed)
            uow.record(InvoicePaymentFailed(failed, reason))
            if failed.state is InvoiceState.UNCOLLECTIBLE:
                uow.record(InvoiceMarkedUncollectible(failed))
            await uow.commit()

    async def void(self, command: VoidInvoice) -> Invoice:
        org_id = require_billing_manager(command.caller)
        async with self._uow() as uow:
            current = await _get(uow, org_id, command.invoice_id, for_update=True)
            voided = current.void(self._clock())
            if voided is not current:
                voided = await uow.invoices.save(voided)
                await uow.commit()
            return voided


async def _get(
    uow: UnitOfWork, org_id: str, invoice_id: str, *, for_update: bool = False
) -> Invoice:
    invoice = await uow.invoices.get(org_id, invoice_id, for_update=for_update)
    if invoice is None:
        raise InvoiceNotFound("invoice not found", invoice_id=invoice_id)
    return invoice
