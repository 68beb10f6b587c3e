"""The redrive policy at work: a consumer's dead letters go back once their dependency answers.

Each consumer runs one ``Redriver`` beside its fetch loop (``Subscription.redrive``). A pass
reads the consumer's dead letters without consuming them and redelivers, through the same
path as the operators' command, those the policy accepts: their class (a dependency
outage, by default), fewer than ``max_redrives`` redrives so far, long enough in the dead
letters, and only while the dependencies look back. The count travels in the event's
``Keel-Redrives`` header, so an event whose dependency never comes back stops after
``max_redrives`` round trips and stays for the operators.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from nats.js import JetStreamContext
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from keel_runtime.events.dead_letters import DeadLetter, list_dead_letters, redeliver
from keel_runtime.events.failures import RedrivePolicy
from keel_runtime.events.streams import DEAD_LETTER_STREAM
from keel_runtime.metrics import NO_METRICS, Metrics

log = logging.getLogger(__name__)


class Redriver:
    """Redrives one consumer's dead letters by ``policy`` until cancelled."""

    def __init__(
        self,
        js: JetStreamContext,
        consumer: str,
        policy: RedrivePolicy,
        *,
        engine: AsyncEngine | None = None,
        dependency_away: Callable[[], bool] = lambda: False,
        dead_letter_stream: str = DEAD_LETTER_STREAM.name,
        metrics: Metrics = NO_METRICS,
    ) -> None:
        self.js = js
        self.consumer = consumer
        self.policy = policy
        self.engine = engine
        self.dependency_away = dependency_away
        self.dead_letter_stream = dead_letter_stream
        self.outcomes = metrics.redrive(consumer)
        self._reported_exhausted: set[int] = set()

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.policy.interval_s)
            try:
                await self.redrive_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # No dead-letter stream yet, broker away: the next pass tries again.
                log.warning("redrive %s: pass failed: %r", self.consumer, exc)

    async def redrive_once(self, *, now: datetime | None = None) -> int:
        """One pass; returns how many dead letters went back."""
        if self.dependency_away() or not await self._database_answers():
            return 0
        now = now or datetime.now(UTC)
        letters = await list_dead_letters(
            self.js, consumer=self.consumer, stream=self.dead_letter_stream
        )
        redriven = 0
        for letter in letters:
            if redriven >= self.policy.max_per_pass:
                break
            if not self._due(letter, now):
                continue
            if redriven:
                await asyncio.sleep(1 / self.policy.rate_per_s)
            if await self._redrive(letter):
                redriven += 1
        return redriven

    def _due(self, letter: DeadLetter, now: datetime) -> bool:
        policy = self.policy
        if letter.error_class not in policy.error_classes:
            return False
        if letter.redrives >= policy.max_redrives:
            if letter.seq not in self._reported_exhausted:
                self._reported_exhausted.add(letter.seq)
                self.outcomes.exhausted.inc()
                log.warning(
                    "redrive %s: dead letter %d (event %s) was redriven %d times; "
                    "left for operators: %s",
                    self.consumer,
                    letter.seq,
                    letter.envelope.id if letter.envelope else "?",
                    letter.redrives,
                    letter.error,
                )
            return False
        waited = (now - letter.time).total_seconds() if letter.time else 0.0
        return waited >= policy.delay(letter.redrives)

    async def _redrive(self, letter: DeadLetter) -> bool:
        try:
            done = await redeliver(
                self.js, letter, stream=self.dead_letter_stream, redrives=letter.redrives + 1
            )
        except Exception as exc:
            self.outcomes.failed.inc()
            log.warning(
                "redrive %s: dead letter %d not redriven: %s", self.consumer, letter.seq, exc
            )
            return False
        self.outcomes.redriven.inc()
        log.info(
            "redrive %s: dead letter %d (event %s, %s) sent back to %s as %s #%d "
            "(redrive %d of %d)",
            self.consumer,
            letter.seq,
            letter.envelope.id if letter.envelope else "?",
            letter.error,
            done.subject,
            done.stream,
            done.seq,
            letter.redrives + 1,
            self.policy.max_redrives,
        )
        return True

    async def _database_answers(self) -> bool:
        if self.engine is None:
            return True
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception as exc:
            log.debug("redrive %s: database not answering: %r", self.consumer, exc)
            return False
        return True
