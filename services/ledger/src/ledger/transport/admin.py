"""LedgerAdminService servicer (internal): invariant checks."""

from __future__ import annotations

from typing import Any

from keel.ledger.v1 import ledger_admin_service_pb2 as pb
from keel.ledger.v1 import ledger_admin_service_pb2_grpc

from keel_runtime.timestamps import timestamp
from ledger.app.queries import QueryHandlers
from ledger.transport import mapping


class LedgerAdminServicer(ledger_admin_service_pb2_grpc.LedgerAdminServiceServicer):  # type: ignore[misc]
    def __init__(self, queries: QueryHandlers) -> None:
        self._queries = queries

    async def VerifyLedger(
        self, request: pb.VerifyLedgerRequest, context: Any
    ) -> pb.VerifyLedgerResponse:
        report = await self._queries.verify(mapping.verify(request))
        return pb.VerifyLedgerResponse(
            ok=report.ok,
            violations=[
                pb.LedgerViolation(
                    code=v.code, asset_code=v.asset_code, account_id=v.account_id, detail=v.detail
                )
                for v in report.violations
            ],
            accounts_checked=report.accounts_checked,
            entries_checked=report.entries_checked,
            verify_time=timestamp(report.checked_at),
        )
