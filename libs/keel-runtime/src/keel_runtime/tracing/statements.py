"""A span per database statement, at the driver: every statement psycopg sends, whether
SQLAlchemy built it or a hot path calls the driver connection directly.

``db.create_engine`` makes its connections with ``TracedCursor`` as their cursor factory.
A span carries the statement's text with its string literals blanked (``SET LOCAL`` quotes
its value into the text); bound parameters never reach it. Outside a traced request or
event, and while tracing is off, a statement costs one global lookup more.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from typing import Any, Final

from psycopg import AsyncCursor, sql

from keel_runtime.tracing import spans

STATEMENT_MAX: Final = 2000
"""Longer statements are cut: a span is for finding the statement, not for replaying it."""

# '...' with '' escapes, and E'...' with backslash escapes: values quoted into the text.
_LITERAL: Final = re.compile(r"(?:[eE]'(?:[^'\\]|\\.|'')*'|'(?:[^']|'')*')")
_TABLE: Final = re.compile(r"\b(?:FROM|INTO|UPDATE|JOIN)\s+([A-Za-z_][\w.]*)", re.IGNORECASE)
_VERB: Final = re.compile(r"\s*(?:/\*.*?\*/\s*)*([A-Za-z]+)", re.DOTALL)


@functools.lru_cache(maxsize=1024)
def describe(statement: str) -> tuple[str, dict[str, str]]:
    """Span name (``SELECT accounts``) and attributes of a statement, literals blanked."""
    text = _LITERAL.sub("'?'", statement)[:STATEMENT_MAX]
    verb_match = _VERB.match(text)
    verb = verb_match.group(1).upper() if verb_match else "SQL"
    table = _TABLE.search(text)
    attributes = {"db.system.name": "postgresql", "db.operation.name": verb, "db.query.text": text}
    if table is not None and verb != "SET":
        attributes["db.collection.name"] = table.group(1)
        return f"{verb} {table.group(1)}", attributes
    return verb, attributes


def _text(query: Any, cursor: AsyncCursor[Any]) -> str:
    if isinstance(query, str):
        return query
    if isinstance(query, bytes):
        return query.decode(errors="replace")
    if isinstance(query, sql.Composable):
        return query.as_string(cursor)
    return str(query)


class TracedCursor(AsyncCursor[Any]):
    """psycopg's async cursor, with a span around ``execute`` and ``executemany``."""

    async def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
        span = self._span(query) if spans.in_trace() else None
        if span is None:
            return await super().execute(query, params, **kwargs)
        try:
            result = await super().execute(query, params, **kwargs)
        except BaseException as exc:
            spans.end_failed(span, exc)
            raise
        span.end()
        return result

    async def executemany(self, query: Any, params_seq: Iterable[Any], **kwargs: Any) -> None:
        span = self._span(query) if spans.in_trace() else None
        if span is None:
            await super().executemany(query, params_seq, **kwargs)
            return
        try:
            await super().executemany(query, params_seq, **kwargs)
        except BaseException as exc:
            spans.end_failed(span, exc)
            raise
        span.end()

    def _span(self, query: Any) -> Any:
        name, attributes = describe(_text(query, self))
        return spans.start_statement(
            name, {**attributes, "db.namespace": self.connection.info.dbname}
        )
