"""Deterministic local provider: title, summary and tags from the URL or note text alone.

No network and no model: the same input always gives the same output, which keeps the
mesh runnable offline and its tests exact. URLs on the reserved ``.invalid`` domain
(RFC 2606) fail, so the FAILED path can be exercised end to end.
"""

from __future__ import annotations

import re
from collections import Counter
from urllib.parse import unquote, urlsplit

from items.domain.errors import EnrichmentError
from items.domain.model import Enrichment, Source

MAX_TITLE = 80
MAX_SUMMARY = 280
MAX_TAGS = 5

_WORD = re.compile(r"[a-z][a-z0-9]+")
_PAGE_SUFFIX = re.compile(r"\.(html?|php|aspx?|jsp)$", re.IGNORECASE)
# Second-level labels under two-letter country domains (example.co.uk, example.com.au).
_GENERIC_SECOND_LEVEL = frozenset({"ac", "co", "com", "edu", "gov", "net", "org"})
_STOPWORD_TEXT = """
about above after again also among and any are aren because been before being below
between both but can could did does doing down during each few for from further had has
have having her here hers herself him himself his how html htm php aspx index into its
itself just more most not now off once only other our ours out over own same she should
some such than that the their theirs them then there these they this those through too
under until very was were what when where which while who whom why will with would you
your yours www com org net http https amp utm
"""
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())


class LocalProvider:
    name = "local"

    async def enrich(self, source: Source) -> Enrichment:
        if source.url is not None:
            return enrich_url(source.url)
        return enrich_note(source.note or "")


def keywords(text: str, *, limit: int = MAX_TAGS) -> tuple[str, ...]:
    """Most frequent meaningful words; ties broken by first appearance."""
    words = [w for w in _WORD.findall(text.lower()) if len(w) >= 3 and w not in _STOPWORDS]
    counts = Counter(words)
    first_seen = {word: index for index, word in reversed(list(enumerate(words)))}
    ranked = sorted(counts, key=lambda word: (-counts[word], first_seen[word]))
    return tuple(ranked[:limit])


def _shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0] or text[: limit - 1]
    return cut.rstrip(" ,.;:") + "…"


def _site_name(host: str) -> str:
    """The registrable name of a host: docs.github.com -> github, bbc.co.uk -> bbc."""
    labels = host.split(".")
    if len(labels) >= 3 and len(labels[-1]) == 2 and labels[-2] in _GENERIC_SECOND_LEVEL:
        return labels[-3]
    return labels[-2] if len(labels) >= 2 else labels[0]


def enrich_url(url: str) -> Enrichment:
    parts = urlsplit(url)
    host = (parts.hostname or "").removeprefix("www.")
    if not host:
        raise EnrichmentError(f"url {url!r} has no host")
    if host == "invalid" or host.endswith(".invalid"):
        raise EnrichmentError(f"host {host} cannot be resolved")
    segments = [unquote(s) for s in parts.path.split("/") if s]
    last = _PAGE_SUFFIX.sub("", segments[-1]) if segments else ""
    words = re.sub(r"[-_+.]+", " ", last).strip()
    title = _shorten(words[:1].upper() + words[1:] if words else host, MAX_TITLE)
    path = "/".join(segments)
    summary = _shorten(f"Link to {host}" + (f": {path}" if path else "."), MAX_SUMMARY)
    site = _site_name(host)
    tags = (site, *keywords(" ".join(segments), limit=MAX_TAGS - 1))
    return Enrichment(title=title, summary=summary, tags=tuple(dict.fromkeys(tags)))


def enrich_note(note: str) -> Enrichment:
    lines = [line.strip() for line in note.splitlines() if line.strip()]
    if not lines:
        raise EnrichmentError("note is blank")
    title = _shorten(lines[0].lstrip("#*- ").strip() or lines[0], MAX_TITLE)
    # The summary is the body after the title line, or the whole note when it is one line.
    summary = _shorten(" ".join(lines[1:] or lines), MAX_SUMMARY)
    return Enrichment(
        title=title, summary=summary, tags=("note", *keywords(note, limit=MAX_TAGS - 1))
    )
