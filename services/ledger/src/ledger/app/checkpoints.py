"""Periodic checkpoints of the chain heads, each also published as an event.

Checkpointing is off the posting path: a posting costs nothing more, and what was appended
after the last checkpoint is vouched for by the next one.
"""

from __future__ import annotations

import logging

from keel_runtime.tenancy import PLATFORM, acting_for
from ledger.app.ports import Clock, UnitOfWorkFactory
from ledger.domain import events as ev
from ledger.domain.checkpoint import Checkpoint, CheckpointKey

log = logging.getLogger(__name__)


class Checkpointer:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, key: CheckpointKey) -> None:
        self._uow = uow
        self._clock = clock
        self.key = key
        self.last_sequence = 0
        """The latest checkpoint this process took: VerifyLedger expects it in the database."""

    async def take(self) -> Checkpoint | None:
        """Checkpoint the heads that moved since the last checkpoint (None if none did).

        Platform work: one checkpoint covers the chains of every organization's accounts.
        """
        with acting_for(PLATFORM):
            async with self._uow() as uow:
                checkpoint = await uow.checkpoints.take(self.key, self._clock())
                if checkpoint is None:
                    return None
                uow.record(ev.CheckpointRecorded(checkpoint))
                await uow.commit()
        self.last_sequence = max(self.last_sequence, checkpoint.sequence)
        log.info(
            "checkpoint %d recorded (%d heads, key %s)",
            checkpoint.sequence,
            len(checkpoint.heads),
            checkpoint.key_id,
        )
        return checkpoint
