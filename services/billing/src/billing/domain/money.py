"""Exact money: integer minor units of an ISO 4217 currency, never floats."""

from __future__ import annotations

from dataclasses import dataclass

from billing.domain.errors import AmountOverflow, UnsupportedCurrency

INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)
MAX_PERIOD_AMOUNT = 10**18
"""What the open period may cost when priced (int64 tops at ~9.22e18: room for fees and
proration on top)."""

# Minor-unit digits per supported currency; the ledger asset uses the same code and scale.
_SCALES = {
    "USD": 2, "EUR": 2, "GBP": 2, "CHF": 2, "CAD": 2, "AUD": 2, "NZD": 2, "SEK": 2,
    "NOK": 2, "DKK": 2, "PLN": 2, "CZK": 2, "BRL": 2, "INR": 2, "CNY": 2, "SGD": 2,
    "JPY": 0, "KRW": 0, "ISK": 0, "KWD": 3, "BHD": 3, "JOD": 3,
}  # fmt: skip


def currency_scale(currency: str) -> int:
    """Minor-unit digits of a currency, or UnsupportedCurrency."""
    try:
        return _SCALES[currency]
    except KeyError:
        raise UnsupportedCurrency(
            f"currency {currency!r} is not supported", currency=currency
        ) from None


def check_int64(amount: int, what: str) -> int:
    """Return amount, or raise AmountOverflow when the contracts cannot carry it."""
    if not INT64_MIN <= amount <= INT64_MAX:
        raise AmountOverflow(f"{what} does not fit in 64-bit minor units")
    return amount


@dataclass(frozen=True, slots=True)
class Money:
    """An amount in minor units of `currency` (scale from `currency_scale`)."""

    currency: str
    amount_minor: int

    @property
    def scale(self) -> int:
        return currency_scale(self.currency)
