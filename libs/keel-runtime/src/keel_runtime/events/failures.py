"""Why a consumer gave up on an event, as recorded in its dead letter, and what redrives it.

A dead letter carries the error and its class (``Keel-Dlq-Error-Class``):

- ``dependency``: the handler failed because something it needs was away — an error whose
  chain (``raise ... from``, or raised while handling) holds a database, broker or peer
  service being unavailable. A transient error raised *as such* is retried in place and
  never dead-letters; one the application wrapped into its own error does, and is what the
  redrive policy sends back once the dependency answers again.
- ``handler``: any other error the handler raised (a bug, or an event it refuses).
- ``crash``: the process died while handling it, as many times as the budget allows.
- ``undecodable``: the bytes are not an envelope.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from keel_runtime.events.transient import is_transient

# Headers added to a dead-lettered message (the original headers are kept).
HEADER_DLQ_ERROR = "Keel-Dlq-Error"
HEADER_DLQ_ERROR_CLASS = "Keel-Dlq-Error-Class"
HEADER_DLQ_CONSUMER = "Keel-Dlq-Consumer"
HEADER_DLQ_STREAM = "Keel-Dlq-Stream"
HEADER_DLQ_SUBJECT = "Keel-Dlq-Subject"
HEADER_DLQ_DELIVERIES = "Keel-Dlq-Deliveries"
HEADER_DLQ_FAILED_ATTEMPTS = "Keel-Dlq-Failed-Attempts"

HEADER_REDRIVES = "Keel-Redrives"
"""Times the redrive policy sent this event back from the dead letters. It travels with the
event (a consumer dead-lettering it again keeps the original headers), so the bound holds
across every round trip."""

DEPENDENCY = "dependency"
HANDLER = "handler"
CRASH = "crash"
UNDECODABLE = "undecodable"
ERROR_CLASSES = frozenset({DEPENDENCY, HANDLER, CRASH, UNDECODABLE})


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        # As a traceback shows it: the explicit cause, else the error being handled unless
        # ``raise ... from None`` hid it.
        if current.__cause__ is not None:
            current = current.__cause__
        else:
            current = None if current.__suppress_context__ else current.__context__


def error_class(exc: BaseException) -> str:
    """``dependency`` when a dependency being away caused ``exc``; else ``handler``."""
    return DEPENDENCY if any(is_transient(e) for e in _chain(exc)) else HANDLER


@dataclass(frozen=True)
class RedrivePolicy:
    """Which of a consumer's dead letters go back to their stream by themselves, and how often.

    A dead letter is redriven when its class is in ``error_classes``, it has been redriven
    fewer than ``max_redrives`` times, it has waited ``delays_s[redrives]`` in the dead
    letters, and the dependencies look back: the consumer's database answers and the
    consumer is not waiting out an unavailable dependency itself. Each redrive is logged and
    counted (``keel_consumer_redrives{outcome}``); operators keep the dead-letter command.
    """

    error_classes: frozenset[str] = frozenset({DEPENDENCY})
    max_redrives: int = 3
    delays_s: tuple[float, ...] = (30.0, 120.0, 600.0)
    """Time in the dead letters before the n-th redrive (the last value repeats)."""
    interval_s: float = 15.0
    """How often the dead letters are looked at."""
    rate_per_s: float = 10.0
    """At most this many redrives per second, so a recovered database is not flooded."""
    max_per_pass: int = 200

    def __post_init__(self) -> None:
        if unknown := self.error_classes - ERROR_CLASSES:
            raise ValueError(f"unknown error classes {sorted(unknown)}")
        if self.max_redrives < 0 or not self.delays_s or self.rate_per_s <= 0:
            raise ValueError("max_redrives >= 0, at least one delay and a positive rate")
        if self.max_per_pass < 1 or self.interval_s <= 0:
            raise ValueError("max_per_pass >= 1 and a positive interval")

    def delay(self, redrives: int) -> float:
        """Time in the dead letters before redrive number ``redrives + 1``."""
        return float(self.delays_s[min(redrives, len(self.delays_s) - 1)])
