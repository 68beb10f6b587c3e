"""Closes billing periods that have ended and collects their invoices (a background task)."""

from __future__ import annotations

import asyncio
import logging

from billing.app.caller import Caller
from billing.app.invoices import InvoiceHandlers
from billing.app.ports import Clock, IdFactory, UnitOfWorkFactory
from billing.domain.errors import LedgerUnavailable, PaymentDeclined, WalletNotFound
from billing.domain.invoice import Invoice

log = logging.getLogger(__name__)


class PeriodCloser:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        invoices: InvoiceHandlers,
        clock: Clock,
        new_id: IdFactory,
        *,
        batch: int = 50,
    ) -> None:
        self._uow = uow
        self._invoices = invoices
        self._clock = clock
        self._new_id = new_id
        self._batch = batch

    async def close_due(self) -> list[Invoice]:
        """Close up to one batch of ended periods, one transaction each."""
        issued: list[Invoice] = []
        for _ in range(self._batch):
            async with self._uow() as uow:
                due = await uow.subscriptions.lock_next_due(self._clock())
                if due is None:
                    break
                invoice = await self._invoices.close_period_in(
                    uow, due.org_id, due.subscription_id, self._new_id()
                )
                await uow.commit()
            issued.append(invoice)
        return issued

    async def collect(self, invoice: Invoice) -> None:
        """Try to pay a fresh invoice once; a failure is recorded and left for a retry."""
        caller = Caller(subject="billing", org_id=invoice.org_id, kind="service")
        try:
            await self._invoices.pay(caller, invoice.invoice_id)
        except (PaymentDeclined, WalletNotFound) as exc:
            log.info("invoice %s not paid: %s", invoice.invoice_id, exc.reason)
        except LedgerUnavailable:
            log.warning("invoice %s not paid: ledger unavailable", invoice.invoice_id)

    async def run(self, interval_s: float = 30.0) -> None:
        while True:
            try:
                for invoice in await self.close_due():
                    await self.collect(invoice)
            except Exception:
                log.exception("closing due billing periods failed")
            await asyncio.sleep(interval_s)
