"""Plan catalogue commands and queries: create (idempotent on id), get, list, archive."""

from __future__ import annotations

from dataclasses import dataclass

from billing.app.commands import ArchivePlan, CreatePlan, GetPlan, ListPlans
from billing.app.ports import Clock, UnitOfWorkFactory
from billing.app.request_ids import reused
from billing.domain.errors import PlanAlreadyExists, PlanNotFound
from billing.domain.plan import Plan, new_plan
from keel_runtime import paging
from keel_runtime.idempotency import replay


@dataclass(frozen=True, slots=True)
class PlanPage:
    plans: list[Plan]
    next_page_token: str


class PlanHandlers:
    def __init__(
        self, uow: UnitOfWorkFactory, clock: Clock, *, reads: UnitOfWorkFactory | None = None
    ) -> None:
        self._uow = uow
        # Pure reads go through units of work without a transaction of their own (read_only).
        self._reads = reads or uow
        self._clock = clock

    async def create(self, command: CreatePlan) -> Plan:
        # The catalogue is every tenant's: the platform's only, no tenant role or key. The
        # server chain refuses tenants first (a platform method); this keeps the rule here.
        command.caller.require_platform()
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

    async def get(self, query: GetPlan) -> Plan:
        # The catalogue is public to every caller: no check on query.caller.
        plan_id = query.plan_id
        async with self._reads() as uow:
            plan = await uow.plans.get(plan_id)
        if plan is None:
            raise PlanNotFound("plan not found", plan_id=plan_id)
        return plan

    async def list(self, query: ListPlans) -> PlanPage:
        limit = paging.page_size(query.page_size)
        show_archived = query.show_archived
        digest = paging.query_digest("ListPlans", show_archived)
        after = paging.decode(query.page_token, digest, (str,))
        async with self._reads() as uow:
            plans = await uow.plans.list(
                after=after[0] if after else "", limit=limit + 1, include_archived=show_archived
            )
        token = ""
        if len(plans) > limit:
            plans = plans[:limit]
            token = paging.encode([plans[-1].plan_id], digest)
        return PlanPage(plans, token)

    async def archive(self, command: ArchivePlan) -> Plan:
        command.caller.require_platform()
        plan_id = command.plan_id
        async with self._uow() as uow:
            plan = await uow.plans.get(plan_id)
            if plan is None:
                raise PlanNotFound("plan not found", plan_id=plan_id)
            archived = plan.archive(self._clock())
            if archived is not plan:
                await uow.plans.save(archived)
                await uow.commit()
            return archived
