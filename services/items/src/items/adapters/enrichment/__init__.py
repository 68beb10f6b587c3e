"""Enrichment providers (adapters of the EnrichmentProvider port), chosen by name."""

from __future__ import annotations

from items.adapters.enrichment.local import LocalProvider
from items.app.ports import EnrichmentProvider

PROVIDERS: dict[str, type[LocalProvider]] = {LocalProvider.name: LocalProvider}


def provider_named(name: str) -> EnrichmentProvider:
    try:
        return PROVIDERS[name]()
    except KeyError:
        raise ValueError(
            f"unknown enrichment provider {name!r}; choose one of {sorted(PROVIDERS)}"
        ) from None
