"""Subscription commands and queries: start, create, get, list, change plan, cancel."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from billing.app.access import require_billing_manager
from billing.app.closing import close_ended_periods, close_open_period
from billing.app.commands import (
    CancelSubscription,
    ChangePlan,
    CreateSubscription,
    GetSubscription,
    ListSubscriptions,
)
from billing.app.ports import Clock, IdFactory, UnitOfWork, UnitOfWorkFactory
from billing.app.request_ids import claim
from billing.app.usage import check_open_period
from billing.domain.errors import (
    ActiveSubscriptionExists,
    DefaultPlanMissing,
    PlanNotFound,
    SubscriptionNotFound,
)
from billing.domain.events import SubscriptionCanceled, SubscriptionChanged, SubscriptionCreated
from billing.domain.money import Money
from billing.domain.subscription import Subscription, start_subscription
from keel_runtime import paging

DEFAULT_START_MAX_DELAY = timedelta(days=1)
"""How far back a sign-up may date its default subscription (a later delivery starts now)."""


@dataclass(frozen=True, slots=True)
class Page:
    subscriptions: list[Subscription]
    next_page_token: str


class SubscriptionHandlers:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        new_id: IdFactory,
        *,
        reads: UnitOfWorkFactory | None = None,
    ) -> None:
        self._uow = uow
        # Pure reads go through units of work without a transaction of their own (read_only).
        self._reads = reads or uow
        self._clock = clock
        self._new_id = new_id

    async def start_default(
        self, uow: UnitOfWork, org_id: str, *, since: datetime | None = None
    ) -> Subscription | None:
        """Start an organization on the default plan, inside the caller's unit of work.

        `since` is when the organization was created: the first period starts there, not
        when this service got to the sign-up event, so usage other services report in
        between (their events travel on other streams) lies inside it rather than before
        every period. A time in the future, or older than `DEFAULT_START_MAX_DELAY` (a
        replayed or restored event), starts it now.

        Idempotent: an organization with an active subscription is left alone (None), and
        the unique index on active subscriptions settles concurrent starts.
        """
        # No look-up first: the organization is almost always new (the event's inbox row
        # stops a repeat), and the unique index on active subscriptions answers the rest.
        plan = await uow.plans.get_default()
        if plan is None:
            if await uow.subscriptions.get_active(org_id) is not None:
                return None
            raise DefaultPlanMissing("no default plan is configured")
        now = self._clock()
        start = now
        if since is not None and now - DEFAULT_START_MAX_DELAY <= since <= now:
            start = since
        subscription = start_subscription(
            subscription_id=self._new_id(), org_id=org_id, plan=plan, now=now, start=start
        )
        if not await uow.subscriptions.add(subscription):
            return None
        uow.record(SubscriptionCreated(subscription))
        return subscription

    async def create(self, command: CreateSubscription) -> Subscription:
        org_id = require_billing_manager(command.caller)
        plan_id, request_id = command.plan_id, command.request_id
        async with self._uow() as uow:
            new_id = self._new_id()
            first = await claim(
                uow, org_id, request_id, "CreateSubscription", {"plan_id": plan_id}, new_id
            )
            if first is not None:
                return await _get(uow, org_id, first)
            plan = await uow.plans.get(plan_id)
            if plan is None:
                raise PlanNotFound("plan not found", plan_id=plan_id)
            subscription = start_subscription(
                subscription_id=new_id, org_id=org_id, plan=plan, now=self._clock()
            )
            if not await uow.subscriptions.add(subscription):
                raise ActiveSubscriptionExists(
                    "the organization already has an active subscription"
                )
            uow.record(SubscriptionCreated(subscription))
            await uow.commit()
            return subscription

    async def get(self, query: GetSubscription) -> Subscription:
        async with self._reads() as uow:
            return await _get(uow, query.caller.require_org(), query.subscription_id)

    async def list(self, query: ListSubscriptions) -> Page:
        limit = paging.page_size(query.page_size)
        org_id, state = query.caller.require_org(), query.state
        digest = paging.query_digest("ListSubscriptions", org_id, state)
        before = paging.decode_time_key(query.page_token, digest)
        async with self._reads() as uow:
            rows = await uow.subscriptions.list(org_id, state=state, before=before, limit=limit + 1)
        token = ""
        if len(rows) > limit:
            rows = rows[:limit]
            token = paging.encode_time_key(rows[-1].create_time, rows[-1].subscription_id, digest)
        return Page(rows, token)

    async def change_plan(self, command: ChangePlan) -> tuple[Subscription, Money]:
        org_id = require_billing_manager(command.caller)
        subscription_id, plan_id = command.subscription_id, command.plan_id
        request_id = command.request_id
        async with self._uow() as uow:
            first = await claim(
                uow,
                org_id,
                request_id,
                "ChangePlan",
                {"subscription_id": subscription_id, "plan_id": plan_id},
                subscription_id,
            )
            # Locked until commit: a period close (or another change) waits, and this change
            # never writes back a period that closed after it was read.
            current = await _get(uow, org_id, subscription_id, for_update=True)
            old = await uow.plans.get(current.plan_id)
            if old is None:
                raise PlanNotFound("plan not found", plan_id=current.plan_id)
            if first is not None:
                # A repeat: the change happened; the subscription as it is now, and the
                # proration the first call answered.
                answered = await uow.idempotency.answer(org_id, request_id)
                return current, Money(old.currency, int(answered or 0))
            new = await uow.plans.get(plan_id)
            if new is None:
                raise PlanNotFound("plan not found", plan_id=plan_id)
            current = await close_ended_periods(uow, current, self._clock(), self._new_id)
            changed, adjustments = current.change_plan(old, new, self._clock())
            # The open period is priced on the plan in force at its end: it must fit.
            await check_open_period(uow, current, new, self._clock(), adjustments=adjustments)
            changed = await uow.subscriptions.save(changed)
            await uow.subscriptions.add_adjustments(subscription_id, adjustments, self._clock())
            proration = Money(new.currency, sum(a.amount_minor for a in adjustments))
            await uow.idempotency.save_answer(org_id, request_id, str(proration.amount_minor))
            uow.record(SubscriptionChanged(changed, old.plan_id, proration))
            await uow.commit()
            return changed, proration

    async def cancel(self, command: CancelSubscription) -> Subscription:
        org_id = require_billing_manager(command.caller)
        subscription_id, at_period_end = command.subscription_id, command.at_period_end
        async with self._uow() as uow:
            current = await _get(uow, org_id, subscription_id, for_update=True)
            # Periods already over are invoiced as they stand: cancelling reaches no further
            # back than the open period.
            current = await close_ended_periods(uow, current, self._clock(), self._new_id)
            if current.active and not at_period_end:
                # Usage to date and pending proration are billed now, on a final invoice.
                _, canceled = await close_open_period(
                    uow, current, self._new_id(), self._clock(), final=True
                )
                await uow.commit()
                return canceled
            canceled = current.cancel(self._clock(), at_period_end=at_period_end)
            if canceled == current:
                await uow.commit()  # keeps the invoices of periods that had ended, if any
                return current
            canceled = await uow.subscriptions.save(canceled)
            if not canceled.active or canceled.cancel_at_period_end:
                uow.record(SubscriptionCanceled(canceled))
            await uow.commit()
            return canceled


async def _get(
    uow: UnitOfWork, org_id: str, subscription_id: str, *, for_update: bool = False
) -> Subscription:
    subscription = await uow.subscriptions.get(org_id, subscription_id, for_update=for_update)
    if subscription is None:
        raise SubscriptionNotFound("subscription not found", subscription_id=subscription_id)
    return subscription
