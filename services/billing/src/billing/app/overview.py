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
    def __init__(
        self, uow: UnitOfWorkFactory, ledger: Ledger, *, reads: UnitOfWorkFactory | None = None
    ) -> None:
        self._uow = uow
        # Pure reads go through units of work without a transaction of their own (read_only).
        self._reads = reads or uow
        self._ledger = ledger

    async def get(self, query: GetBillingOverview) -> Overview:
        org_id = query.caller.require_org()
        # Three statements, no snapshot needed: a plan's terms never change (its currency is
        # the one the subscription was read with), and the overview was never one snapshot
        # anyway (the wallet comes from the ledger, afterwards).
        async with self._reads() as uow:
            subscription = await uow.subscriptions.get_active(org_id)
            plan = await uow.plans.get(subscription.plan_id) if subscription else None
            due = await uow.invoices.amount_due(org_id)
        # The database work is done before the ledger is asked: no transaction waits on it.
        currency = plan.currency if plan else None
        wallet = await self._ledger.find_wallet(org_id, currency)
        amount_due = Money(currency, due.get(currency, 0)) if currency else None
        return Overview(org_id, subscription, wallet, amount_due)
