"""Closes billing periods that have ended and collects their invoices (a background task).

Each subscription is closed in a transaction of its own, through the runtime's ItemRunner:
one that cannot be closed (say, usage that cannot be priced) is logged, counted in
`keel_job_items_total{job="billing-close-periods",outcome="failed"}` and retried after a
backoff of its own, while every other subscription is invoiced on time.
"""

from __future__ import annotations

import logging

from billing.app.commands import PayInvoice
from billing.app.invoices import InvoiceHandlers
from billing.app.ports import Clock, IdFactory, UnitOfWorkFactory
from billing.domain.errors import LedgerUnavailable, PaymentDeclined, WalletNotFound
from billing.domain.invoice import Invoice
from keel_runtime.caller import Caller
from keel_runtime.metrics import NO_METRICS, Metrics
from keel_runtime.periodic import Backoff, ItemRunner
from keel_runtime.tenancy import acting_for

log = logging.getLogger(__name__)

CLOSE_JOB = "billing-close-periods"
COLLECT_JOB = "billing-collect-invoices"


class PeriodCloser:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        invoices: InvoiceHandlers,
        clock: Clock,
        new_id: IdFactory,
        *,
        batch: int = 50,
        metrics: Metrics = NO_METRICS,
        backoff: Backoff | None = None,
    ) -> None:
        self._uow = uow
        self._invoices = invoices
        self._clock = clock
        self._new_id = new_id
        self._batch = batch
        # A subscription that failed waits 30 s, 60 s ... up to an hour before the next try.
        self._closing: ItemRunner[tuple[str, str]] = ItemRunner(
            CLOSE_JOB,
            key=lambda due: due[1],
            metrics=metrics,
            backoff=backoff if backoff is not None else Backoff(30, 3600),
        )
        self._collecting: ItemRunner[Invoice] = ItemRunner(
            COLLECT_JOB, key=lambda invoice: invoice.invoice_id, metrics=metrics
        )
        self._metrics = metrics

    async def close_due(self) -> list[Invoice]:
        """Close every ended period, one transaction each; failures are skipped, not raised.

        The ended periods come from a cross-organization lookup (organization and id); each
        is closed acting for its organization.
        """
        issued: list[Invoice] = []
        while True:
            async with self._uow() as uow:
                due = await uow.subscriptions.list_due(
                    self._clock(),
                    limit=self._batch,
                    exclude=[str(k) for k in self._closing.backing_off()],
                )
            if not due:
                return issued
            result = await self._closing.run(due, self._close_one)
            closed = [invoice for _, invoice in result.succeeded if invoice is not None]
            if not closed:
                # What is left failed, or another replica holds it: the next pass sees it.
                return issued
            # A subscription several periods behind is due again: the loop closes the next one.
            issued += closed

    async def _close_one(self, due: tuple[str, str]) -> Invoice | None:
        org_id, subscription_id = due
        with acting_for(org_id):
            async with self._uow() as uow:
                if await uow.subscriptions.lock_due(subscription_id, self._clock()) is None:
                    return None  # closed meanwhile, or being closed by another replica
                invoice = await self._invoices.close_period_in(
                    uow, org_id, subscription_id, self._new_id()
                )
                await uow.commit()
        return invoice

    async def collect(self, invoice: Invoice) -> None:
        """Try to pay a fresh invoice once; a failure is recorded and left for a retry."""
        caller = Caller(subject="billing", org_id=invoice.org_id, kind="service")
        try:
            with acting_for(invoice.org_id):
                await self._invoices.pay(PayInvoice(caller, invoice.invoice_id))
        except (PaymentDeclined, WalletNotFound) as exc:
            log.info("invoice %s not paid: %s", invoice.invoice_id, exc.reason)
        except LedgerUnavailable:
            log.warning("invoice %s not paid: ledger unavailable", invoice.invoice_id)

    async def close_and_collect(self) -> int:
        """One pass: close what is due, then try to collect each new invoice once."""
        issued = await self.close_due()
        await self._collecting.run(issued, self.collect)
        return len(issued)
