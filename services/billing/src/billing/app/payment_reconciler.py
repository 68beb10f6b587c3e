"""Reconciles invoice payments with the ledger (a background task).

Paying is two commits in two services: the ledger's transfer, then billing's "paid". When
billing dies between them the money has moved and the invoice is still OPEN (or was voided
meanwhile). Every payment attempt leaves `payment_started_time` on the invoice first, so this
job can ask the ledger, a grace period later, whether the transfer exists: yes → the invoice
is marked paid (with its event) exactly once, under the row lock; no → the attempt trace is
cleared.

The reverse is checked too: each PAID invoice's transfer is looked up once; one the ledger
does not know is flagged (`reconciliation_issue = LEDGER_TRANSFER_MISSING`, logged as an
error and counted as a failed item), never left silent. Items fail and back off one by one.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import timedelta

from billing.app.ports import Clock, Ledger, UnitOfWorkFactory
from billing.domain.events import InvoicePaid
from billing.domain.invoice import Invoice, InvoiceState
from keel_runtime.metrics import NO_METRICS, Metrics
from keel_runtime.periodic import Backoff, ItemRunner
from keel_runtime.tenancy import acting_for

log = logging.getLogger(__name__)

COMPLETE_JOB = "billing-reconcile-payments"
CHECK_JOB = "billing-check-paid-invoices"
TRANSFER_MISSING = "LEDGER_TRANSFER_MISSING"


class TransferMissing(Exception):
    """A paid invoice whose transfer the ledger does not have (counted as a failed item)."""


class PaymentReconciler:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        ledger: Ledger,
        clock: Clock,
        *,
        grace: timedelta = timedelta(minutes=1),
        batch: int = 100,
        metrics: Metrics = NO_METRICS,
    ) -> None:
        self._uow = uow
        self._ledger = ledger
        self._clock = clock
        # Longer than any ledger call of a payment still in flight.
        self._grace = grace
        self._batch = batch
        self._metrics = metrics
        self._completing: ItemRunner[Invoice] = ItemRunner(
            COMPLETE_JOB,
            key=lambda i: i.invoice_id,
            metrics=metrics,
            backoff=Backoff(30, 3600),
        )
        self._checking: ItemRunner[Invoice] = ItemRunner(
            CHECK_JOB, key=lambda i: i.invoice_id, metrics=metrics, backoff=Backoff(30, 3600)
        )

    async def reconcile(self) -> int:
        """One pass; the number of invoices completed as paid."""
        async with self._uow() as uow:
            started = await uow.invoices.payments_started_before(
                self._clock() - self._grace, self._batch
            )
            paid = await uow.invoices.paid_unchecked(self._batch)
        completed = await self._completing.run(started, self._complete)
        await self._checking.run(paid, self._check)
        return sum(1 for _, done in completed.succeeded if done)

    async def _complete(self, seen: Invoice) -> bool:
        # Found across organizations; settled acting for the invoice's own.
        with acting_for(seen.org_id):
            return await self._complete_for_org(seen)

    async def _complete_for_org(self, seen: Invoice) -> bool:
        transaction_id = await self._ledger.find_payment(seen)
        async with self._uow() as uow:
            current = await uow.invoices.get(seen.org_id, seen.invoice_id, for_update=True)
            if current is None or current.payment_started_time != seen.payment_started_time:
                return False  # settled meanwhile (paid, failed, or a new attempt began)
            if transaction_id is None:
                # The attempt never reached the ledger: nothing moved, nothing to finish.
                await uow.invoices.save(replace(current, payment_started_time=None))
                await uow.commit()
                return False
            paid = current.mark_paid(transaction_id, self._clock())
            paid = replace(paid, payment_checked_time=self._clock())
            saved = await uow.invoices.save(paid)
            uow.record(InvoicePaid(saved))
            await uow.commit()
        log.warning(
            "invoice %s completed as paid from the ledger's transfer %s",
            seen.invoice_id,
            transaction_id,
        )
        return True

    async def _check(self, seen: Invoice) -> None:
        with acting_for(seen.org_id):
            await self._check_for_org(seen)

    async def _check_for_org(self, seen: Invoice) -> None:
        exists = await self._ledger.payment_exists(seen)
        async with self._uow() as uow:
            current = await uow.invoices.get(seen.org_id, seen.invoice_id, for_update=True)
            if current is None or current.state is not InvoiceState.PAID:
                return
            issue = "" if exists else TRANSFER_MISSING
            await uow.invoices.save(
                replace(current, payment_checked_time=self._clock(), reconciliation_issue=issue)
            )
            await uow.commit()
        if not exists:
            log.error(
                "paid invoice %s has no transfer %s in the ledger",
                seen.invoice_id,
                seen.payment_transaction_id,
                extra={"org_id": seen.org_id, "reason": TRANSFER_MISSING},
            )
            raise TransferMissing(seen.invoice_id)
