"""The billing overview query: active subscription, amount due and live wallet balance."""

from __future__ import annotations

from dataclasses import dataclass

from billing.app.commands import GetBillingOverview
from billing.app.ports import Ledger, UnitOfWorkFactory, Wallet
from billing.domain.money import Money
from billing.domain.subscription import Subscription


@dataclass(frozen=True, slots=True)
class Overview:
    org_id: str
    subscription: Subscription | None
    wallet: Wallet | None
    amount_due: Money | None


class OverviewHandlers:
    def __init__(self, uow: UnitOfWorkFactory, ledger: Ledger) -> None:
        self._uow = uow
        self._ledger = ledger

    async def get(self, query: GetBillingOverview) -> Overview:
        org_id = query.caller.require_org()
        async with self._uow() as uow:
            subscription = await uow.subscriptions.get_active(org_id)
            plan = await uow.plans.get(subscription.plan_id) if subscription else None
            due = await uow.invoices.amount_due(org_id)
        # The database work is done before the ledger is asked: no transaction waits on it.
        currency = plan.currency if plan else None
        wallet = await self._ledger.find_wallet(org_id, currency)
        amount_due = Money(currency, due.get(currency, 0)) if currency else None
        return Overview(org_id, subscription, wallet, amount_due)
