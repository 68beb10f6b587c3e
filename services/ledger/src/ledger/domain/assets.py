"""ISO 4217 minor units for the currencies an organization may choose as its default."""

from __future__ import annotations

from ledger.domain.model import Asset

# Currencies whose minor unit is not two decimal places; every other ISO code has two.
_SCALES = {
    "BHD": 3, "BIF": 0, "CLF": 4, "CLP": 0, "DJF": 0, "GNF": 0, "IQD": 3, "ISK": 0,
    "JOD": 3, "JPY": 0, "KMF": 0, "KRW": 0, "KWD": 3, "LYD": 3, "OMR": 3, "PYG": 0,
    "RWF": 0, "TND": 3, "UGX": 0, "UYI": 0, "UYW": 4, "VND": 0, "VUV": 0, "XAF": 0,
    "XOF": 0, "XPF": 0,
}  # fmt: skip

DEFAULT_CURRENCY = "USD"


def currency_asset(code: str) -> Asset:
    """The asset for an ISO 4217 currency code (empty: the default currency)."""
    code = (code or DEFAULT_CURRENCY).strip().upper()
    return Asset(code=code, scale=_SCALES.get(code, 2))
