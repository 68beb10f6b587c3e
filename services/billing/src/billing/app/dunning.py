"""Dunning: collecting open invoices again on a schedule after a failed collection.

A failed attempt (a decline, or no wallet) schedules the next one from the invoice's first
failure (`InvoiceHandlers`' retry schedule, 1, 3 and 5 days by default); when the last one
fails the invoice becomes UNCOLLECTIBLE. Each attempt publishes
`billing.invoice.payment_failed` (or `billing.invoice.paid`), the last
`billing.invoice.marked_uncollectible` too. This background task makes the due attempts,
each invoice on its own (one failing invoice delays no other).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import timedelta

from billing.app.commands import PayInvoice
from billing.app.invoices import InvoiceHandlers
from billing.app.ports import Clock, UnitOfWorkFactory
from billing.domain.errors import PaymentDeclined, WalletNotFound
from billing.domain.invoice import Invoice, InvoiceState
from keel_runtime.caller import Caller
from keel_runtime.metrics import NO_METRICS, Metrics
from keel_runtime.periodic import Backoff, ItemRunner
from keel_runtime.tenancy import acting_for

log = logging.getLogger(__name__)

DUNNING_JOB = "billing-dunning"
# While one replica makes an attempt, the others leave the invoice alone this long.
LEASE = timedelta(minutes=10)


class Dunning:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        invoices: InvoiceHandlers,
        clock: Clock,
        *,
        batch: int = 100,
        metrics: Metrics = NO_METRICS,
    ) -> None:
        self._uow = uow
        self._invoices = invoices
        self._clock = clock
        self._batch = batch
        self._metrics = metrics
        self._retrying: ItemRunner[Invoice] = ItemRunner(
            DUNNING_JOB, key=lambda i: i.invoice_id, metrics=metrics, backoff=Backoff(30, 3600)
        )

    async def retry_due(self) -> int:
        """One pass: an attempt on every invoice whose retry is due; how many were made."""
        async with self._uow() as uow:
            due = await uow.invoices.retries_due(self._clock(), self._batch)
        result = await self._retrying.run(due, self._attempt)
        return sum(1 for _, attempted in result.succeeded if attempted)

    async def _attempt(self, seen: Invoice) -> bool:
        # Found across organizations; worked on acting for the invoice's own.
        with acting_for(seen.org_id):
            if not await self._lease(seen):
                return False
            caller = Caller(subject="billing", org_id=seen.org_id, kind="service")
            try:
                await self._invoices.pay(PayInvoice(caller, seen.invoice_id))
            except (PaymentDeclined, WalletNotFound) as exc:
                # Recorded by pay(): the next attempt is scheduled, or it is uncollectible.
                log.info("dunning: invoice %s not paid: %s", seen.invoice_id, exc.reason)
        return True

    async def _lease(self, seen: Invoice) -> bool:
        """Push the due time past the attempt, so another replica does not make it too."""
        now = self._clock()
        async with self._uow() as uow:
            current = await uow.invoices.get(seen.org_id, seen.invoice_id, for_update=True)
            if (
                current is None
                or current.state is not InvoiceState.OPEN
                or current.next_payment_attempt_time is None
                or current.next_payment_attempt_time > now
            ):
                return False  # paid, voided or already retried meanwhile
            await uow.invoices.save(replace(current, next_payment_attempt_time=now + LEASE))
            await uow.commit()
        return True
