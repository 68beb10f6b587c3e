"""Plan catalogue commands and queries: create (idempotent on id), get, list, archive."""

from __future__ import annotations

from dataclasses import dataclass

from billing.app.ports import Clock, UnitOfWorkFactory
from billing.app.request_ids import reused
from billing.domain.errors import PlanAlreadyExists, PlanNotFound
from billing.domain.plan import Interval, Plan, new_plan
from billing.domain.pricing import Price
from keel_runtime import paging
from keel_runtime.caller import Caller
from keel_runtime.idempotency import fingerprint, replay


@dataclass(frozen=True, slots=True)
class CreatePlan:
    plan_id: str
    display_name: str
    currency: str
    interval: Interval
    prices: tuple[Price, ...]
    # Idempotency key (AIP-155); empty for none.
    request_id: str = ""

    def fingerprint(self) -> str:
        """Identifies the payload, to tell a retry from a reused request id."""
        return fingerprint(
            {
                "plan_id": self.plan_id,
                "display_name": self.display_name,
                "currency": self.currency,
                "interval": self.interval.value,
                "prices": [repr(p) for p in self.prices],
            }
        )


@dataclass(frozen=True, slots=True)
class PlanPage:
    plans: list[Plan]
    next_page_token: str


class PlanHandlers:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def create(self, caller: Caller, command: CreatePlan) -> Plan:
        # The catalogue is every tenant's: the platform's only, no tenant role or key. The
        # server chain refuses tenants first (a platform method); this keeps the rule here.
        caller.require_platform()
        plan = new_plan(
            plan_id=command.plan_id,
            display_name=command.display_name,
            currency=command.currency,
            interval=command.interval,
            prices=command.prices,
            now=self._clock(),
        )
        request_id = command.request_id or None
        payload = command.fingerprint() if request_id else None
        async with self._uow() as uow:
            if await uow.plans.add(plan, request_id=request_id, fingerprint=payload):
                await uow.commit()
                return plan
            first = await uow.plans.get_by_request_id(request_id) if request_id else None
            existing = await uow.plans.get(plan.plan_id)
        if first is not None:
            # A retried create: its plan as it is now, archived or not.
            first_plan, first_payload = first
            return replay(
                first_plan, first_payload, payload or "", lambda _: reused(command.request_id)
            )
        if existing is not None and existing.same_terms(plan):
            return existing  # a retried create without a request id
        raise PlanAlreadyExists("a different plan with this id exists", plan_id=plan.plan_id)

    async def get(self, plan_id: str) -> Plan:
        async with self._uow() as uow:
            plan = await uow.plans.get(plan_id)
        if plan is None:
            raise PlanNotFound("plan not found", plan_id=plan_id)
        return plan

    async def list(self, *, page_size: int, page_token: str, show_archived: bool) -> PlanPage:
        limit = paging.page_size(page_size)
        query = paging.query_digest("ListPlans", show_archived)
        after = paging.decode(page_token, query, (str,))
        async with self._uow() as uow:
            plans = await uow.plans.list(
                after=after[0] if after else "", limit=limit + 1, include_archived=show_archived
            )
        token = ""
        if len(plans) > limit:
            plans = plans[:limit]
            token = paging.encode([plans[-1].plan_id], query)
        return PlanPage(plans, token)

    async def archive(self, caller: Caller, plan_id: str) -> Plan:
        caller.require_platform()
        async with self._uow() as uow:
            plan = await uow.plans.get(plan_id)
            if plan is None:
                raise PlanNotFound("plan not found", plan_id=plan_id)
            archived = plan.archive(self._clock())
            if archived is not plan:
                await uow.plans.save(archived)
                await uow.commit()
            return archived
