"""Invoice repository (SQLAlchemy Core)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Row, and_, func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from billing.domain.errors import ConcurrentModification
from billing.domain.invoice import Invoice, InvoiceState
from billing.domain.subscription import Subscription
from billing.storage import json_codec
from billing.storage.ids import valid_uuid
from billing.storage.tables import invoices


def _invoice(row: Row[Any]) -> Invoice:
    return Invoice(
        invoice_id=str(row.invoice_id),
        org_id=row.org_id,
        subscription_id=str(row.subscription_id),
        plan_id=row.plan_id,
        currency=row.currency,
        state=InvoiceState(row.state),
        period_start=row.period_start,
        period_end=row.period_end,
        lines=json_codec.lines_from_json(row.lines),
        issue_time=row.issue_time,
        paid_time=row.paid_time,
        void_time=row.void_time,
        payment_transaction_id=row.payment_transaction_id,
        payment_attempts=row.payment_attempts,
        last_payment_error=row.last_payment_error,
        payment_started_time=row.payment_started_time,
        payment_checked_time=row.payment_checked_time,
        reconciliation_issue=row.reconciliation_issue,
        first_payment_failure_time=row.first_payment_failure_time,
        next_payment_attempt_time=row.next_payment_attempt_time,
        version=row.version,
    )


class InvoiceRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, invoice: Invoice) -> None:
        await self._conn.execute(
            invoices.insert().values(
                invoice_id=invoice.invoice_id,
                org_id=invoice.org_id,
                subscription_id=invoice.subscription_id,
                plan_id=invoice.plan_id,
                currency=invoice.currency,
                state=invoice.state.value,
                period_start=invoice.period_start,
                period_end=invoice.period_end,
                lines=json_codec.lines_to_json(invoice.lines),
                total_minor=invoice.total_minor,
                issue_time=invoice.issue_time,
            )
        )

    async def get(
        self, org_id: str, invoice_id: str, *, for_update: bool = False
    ) -> Invoice | None:
        if not valid_uuid(invoice_id):
            return None
        query = select(invoices).where(
            invoices.c.invoice_id == invoice_id, invoices.c.org_id == org_id
        )
        if for_update:
            query = query.with_for_update()
        row = (await self._conn.execute(query)).first()
        return _invoice(row) if row else None

    async def save(self, invoice: Invoice) -> Invoice:
        """Write an invoice read (and locked) in this transaction; returns it with its new
        version. ConcurrentModification if the row changed since it was read."""
        i = invoices.c
        saved = (
            await self._conn.execute(
                update(invoices)
                .where(i.invoice_id == invoice.invoice_id, i.version == invoice.version)
                .values(
                    state=invoice.state.value,
                    paid_time=invoice.paid_time,
                    void_time=invoice.void_time,
                    payment_transaction_id=invoice.payment_transaction_id,
                    payment_attempts=invoice.payment_attempts,
                    last_payment_error=invoice.last_payment_error,
                    payment_started_time=invoice.payment_started_time,
                    payment_checked_time=invoice.payment_checked_time,
                    reconciliation_issue=invoice.reconciliation_issue,
                    first_payment_failure_time=invoice.first_payment_failure_time,
                    next_payment_attempt_time=invoice.next_payment_attempt_time,
                    version=i.version + 1,
                )
                .returning(i.version)
            )
        ).first()
        if saved is None:
            raise ConcurrentModification(
                "the invoice changed meanwhile; retry", invoice_id=invoice.invoice_id
            )
        return replace(invoice, version=saved.version)

    async def list(
        self,
        org_id: str,
        *,
        state: InvoiceState | None,
        before: tuple[datetime, str] | None,
        limit: int,
    ) -> list[Invoice]:
        query = (
            select(invoices)
            .where(invoices.c.org_id == org_id)
            .order_by(invoices.c.issue_time.desc(), invoices.c.invoice_id.desc())
            .limit(limit)
        )
        if state is not None:
            query = query.where(invoices.c.state == state.value)
        if before is not None and valid_uuid(before[1]):
            query = query.where(
                or_(
                    invoices.c.issue_time < before[0],
                    and_(invoices.c.issue_time == before[0], invoices.c.invoice_id < before[1]),
                )
            )
        return [_invoice(r) for r in await self._conn.execute(query)]

    # Across organizations, for the payment jobs: the migration's SECURITY DEFINER functions
    # (0006) are the only way; each invoice is then handled acting for its organization.

    async def payments_started_before(self, cutoff: datetime, limit: int) -> Sequence[Invoice]:
        return await self._across_organizations(
            "billing_payments_started_before(:cutoff, :limit)", cutoff=cutoff, limit=limit
        )

    async def retries_due(self, now: datetime, limit: int) -> Sequence[Invoice]:
        return await self._across_organizations(
            "billing_invoices_due_for_retry(:now, :limit)", now=now, limit=limit
        )

    async def paid_unchecked(self, limit: int) -> Sequence[Invoice]:
        return await self._across_organizations("billing_paid_unchecked(:limit)", limit=limit)

    async def _across_organizations(self, call: str, **params: Any) -> Sequence[Invoice]:
        query = text(f"SELECT * FROM {call}").columns(*invoices.c)
        return [_invoice(r) for r in await self._conn.execute(query, params)]

    async def final_of(self, subscription: Subscription) -> Invoice | None:
        if subscription.cancel_time is None:
            return None
        row = (
            await self._conn.execute(
                select(invoices).where(
                    invoices.c.subscription_id == subscription.subscription_id,
                    invoices.c.period_end == subscription.cancel_time,
                )
            )
        ).first()
        return _invoice(row) if row else None

    async def billed_until(self, org_id: str) -> datetime | None:
        end = (
            await self._conn.execute(
                select(func.max(invoices.c.period_end)).where(invoices.c.org_id == org_id)
            )
        ).scalar_one()
        return end if isinstance(end, datetime) else None

    async def amount_due(self, org_id: str) -> dict[str, int]:
        rows = await self._conn.execute(
            select(invoices.c.currency, func.sum(invoices.c.total_minor))
            .where(invoices.c.org_id == org_id, invoices.c.state == "open")
            .group_by(invoices.c.currency)
        )
        return {currency: int(total) for currency, total in rows}
