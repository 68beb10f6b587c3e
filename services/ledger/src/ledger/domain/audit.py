"""Result of checking the ledger's invariants."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Violation:
    code: str
    asset_code: str = ""
    account_id: str = ""
    detail: str = ""


@dataclass(frozen=True)
class LedgerReport:
    violations: tuple[Violation, ...]
    accounts_checked: int
    entries_checked: int
    checked_at: datetime

    @property
    def ok(self) -> bool:
        return not self.violations
