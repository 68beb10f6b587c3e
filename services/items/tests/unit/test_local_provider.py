"""The deterministic local enrichment provider."""

from __future__ import annotations

import pytest

from items.adapters.enrichment import provider_named
from items.adapters.enrichment.local import LocalProvider, keywords
from items.domain.errors import EnrichmentError
from items.domain.model import Enrichment, Source


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "https://blog.example.co.uk/2024/03/postgres-full-text-search.html?utm_source=x",
            Enrichment(
                "Postgres full text search",
                "Link to blog.example.co.uk: 2024/03/postgres-full-text-search.html",
                ("example", "postgres", "full", "text", "search"),
            ),
        ),
        (
            "https://docs.python.org/3/library/asyncio-task.html",
            Enrichment(
                "Asyncio task",
                "Link to docs.python.org: 3/library/asyncio-task.html",
                ("python", "library", "asyncio", "task"),
            ),
        ),
        (
            "https://www.example.com/",
            Enrichment("example.com", "Link to example.com.", ("example",)),
        ),
    ],
)
async def test_url_enrichment(url: str, expected: Enrichment) -> None:
    assert await LocalProvider().enrich(Source(url=url)) == expected


async def test_note_enrichment() -> None:
    note = "# Shopping list\nmilk eggs milk\nbread bread bread"
    assert await LocalProvider().enrich(Source(note=note)) == Enrichment(
        "Shopping list",
        "milk eggs milk bread bread bread",
        ("note", "bread", "milk", "shopping", "list"),
    )


async def test_one_line_note_is_its_own_summary() -> None:
    result = await LocalProvider().enrich(Source(note="Remember the milk"))
    assert (result.title, result.summary) == ("Remember the milk", "Remember the milk")


async def test_long_text_is_shortened_on_a_word_boundary() -> None:
    result = await LocalProvider().enrich(Source(note="word " * 100))
    assert len(result.title) <= 80 and result.title.endswith("…")
    assert len(result.summary) <= 280


@pytest.mark.parametrize(
    "source",
    [Source(url="https://github.com/nats-io/nats.py"), Source(note="Some note\nwith a body")],
)
async def test_same_input_same_output(source: Source) -> None:
    results = {await LocalProvider().enrich(source) for _ in range(3)}
    assert len(results) == 1


@pytest.mark.parametrize("url", ["https://host.invalid/page", "https://invalid/"])
async def test_reserved_invalid_domain_fails(url: str) -> None:
    with pytest.raises(EnrichmentError):
        await LocalProvider().enrich(Source(url=url))


def test_keywords_rank_by_frequency_then_first_appearance() -> None:
    assert keywords("the zeta alpha zeta beta alpha gamma", limit=3) == ("zeta", "alpha", "beta")


def test_provider_lookup() -> None:
    assert provider_named("local").name == "local"
    with pytest.raises(ValueError, match="unknown enrichment provider"):
        provider_named("nope")
