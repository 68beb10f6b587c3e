"""JSON documents for the columns that hold value objects (plan prices, invoice lines)."""

from __future__ import annotations

from typing import Any

from billing.domain.invoice import InvoiceLine, LineKind
from billing.domain.pricing import (
    Aggregation,
    Flat,
    Model,
    Package,
    PerUnit,
    Price,
    Tier,
    Tiered,
    TierMode,
)


def _model_to_json(model: Model) -> dict[str, Any]:
    if isinstance(model, Flat):
        return {"type": "flat", "amount_minor": model.amount_minor}
    if isinstance(model, PerUnit):
        return {"type": "per_unit", "unit_amount_minor": model.unit_amount_minor}
    if isinstance(model, Package):
        return {
            "type": "package",
            "package_size": model.package_size,
            "package_amount_minor": model.package_amount_minor,
        }
    return {
        "type": "tiered",
        "mode": model.mode.value,
        "tiers": [
            {"up_to": t.up_to, "unit": t.unit_amount_minor, "flat": t.flat_amount_minor}
            for t in model.tiers
        ],
    }


def _model_from_json(doc: dict[str, Any]) -> Model:
    kind = doc["type"]
    if kind == "flat":
        return Flat(doc["amount_minor"])
    if kind == "per_unit":
        return PerUnit(doc["unit_amount_minor"])
    if kind == "package":
        return Package(doc["package_size"], doc["package_amount_minor"])
    return Tiered(
        TierMode(doc["mode"]),
        tuple(Tier(t["up_to"], t["unit"], t["flat"]) for t in doc["tiers"]),
    )


def prices_to_json(prices: tuple[Price, ...]) -> list[dict[str, Any]]:
    return [
        {
            "metric": p.metric,
            "aggregation": p.aggregation.value,
            "included_quantity": p.included_quantity,
            "description": p.description,
            "model": _model_to_json(p.model),
        }
        for p in prices
    ]


def prices_from_json(docs: list[dict[str, Any]]) -> tuple[Price, ...]:
    return tuple(
        Price(
            metric=d["metric"],
            model=_model_from_json(d["model"]),
            aggregation=Aggregation(d["aggregation"]),
            included_quantity=d["included_quantity"],
            description=d.get("description", ""),
        )
        for d in docs
    )


def lines_to_json(lines: tuple[InvoiceLine, ...]) -> list[dict[str, Any]]:
    return [
        {
            "description": line.description,
            "amount_minor": line.amount_minor,
            "kind": line.kind.value,
            "metric": line.metric,
            "quantity": line.quantity,
        }
        for line in lines
    ]


def lines_from_json(docs: list[dict[str, Any]]) -> tuple[InvoiceLine, ...]:
    return tuple(
        InvoiceLine(
            description=d["description"],
            amount_minor=d["amount_minor"],
            kind=LineKind(d["kind"]),
            metric=d.get("metric", ""),
            quantity=d.get("quantity", 0),
        )
        for d in docs
    )
