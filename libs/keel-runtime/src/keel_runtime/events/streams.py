"""JetStream stream declarations: one per producing service, plus the dead-letter stream."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from nats.js import JetStreamContext
from nats.js.api import StorageType, StreamConfig
from nats.js.errors import BadRequestError, NotFoundError

from keel_runtime.settings import env_int

log = logging.getLogger(__name__)


@dataclass
class StreamSpec:
    name: str
    """Stream name, e.g. ``LEDGER``."""
    subjects: list[str] = field(default_factory=list)
    """Subjects captured, e.g. ``["ledger.>"]``."""
    duplicate_window_s: float = 120
    """De-duplication window on ``Nats-Msg-Id``. The relay never re-publishes a row the
    stream acknowledged (it remembers rows whose marking failed); this window covers a relay
    that died between a PubAck and its commit and is back within it."""
    replicas: int = 1
    """3 in production clusters."""
    max_age_s: float | None = None
    """Retention; None keeps messages until limits say otherwise."""

    def config(self) -> StreamConfig:
        return StreamConfig(
            name=self.name,
            subjects=list(self.subjects),
            storage=StorageType.FILE,
            duplicate_window=self.duplicate_window_s,
            num_replicas=self.replicas,
            max_age=self.max_age_s,
        )


DEAD_LETTER_STREAM = StreamSpec(name="DLQ", subjects=["dlq.>"])

MAX_REPLICAS = 5
"""JetStream's upper bound on a stream's replicas."""


def service_stream(
    service: str, *, duplicate_window_s: float = 120, replicas: int = 1
) -> StreamSpec:
    """The stream a service publishes to: ``<SERVICE>`` capturing ``<service>.>``."""
    return StreamSpec(
        name=service.upper(),
        subjects=[f"{service}.>"],
        duplicate_window_s=duplicate_window_s,
        replicas=replicas,
    )


def dead_letter_stream(*, replicas: int = 1) -> StreamSpec:
    """The ``DLQ`` stream capturing ``dlq.>``, with ``replicas`` copies."""
    return StreamSpec(
        name=DEAD_LETTER_STREAM.name, subjects=list(DEAD_LETTER_STREAM.subjects), replicas=replicas
    )


@dataclass(frozen=True)
class StreamSettings:
    """How the streams a service declares are stored; one value for all of them."""

    replicas: int = 1
    """Copies of each stream (``NATS_STREAM_REPLICAS``): 1 on one server, 3 on a cluster."""

    @classmethod
    def from_env(cls) -> StreamSettings:
        return cls(replicas=env_int("NATS_STREAM_REPLICAS", 1, min=1, max=MAX_REPLICAS))

    def service_stream(self, service: str) -> StreamSpec:
        """``service_stream(service)`` with these replicas."""
        return service_stream(service, replicas=self.replicas)

    def dead_letter_stream(self) -> StreamSpec:
        """The ``DLQ`` stream with these replicas."""
        return dead_letter_stream(replicas=self.replicas)


async def ensure_stream(js: JetStreamContext, spec: StreamSpec) -> None:
    """Create the stream, or bring an existing one to this subjects/window/replicas/age."""
    wanted = spec.config()
    try:
        info = await js.stream_info(spec.name)
    except NotFoundError:
        try:
            await js.add_stream(wanted)
            return
        except BadRequestError:
            # Another process created it meanwhile; compare with what it made.
            info = await js.stream_info(spec.name)
    have = info.config
    if (
        sorted(have.subjects or []) != sorted(spec.subjects)
        or abs((have.duplicate_window or 0) - spec.duplicate_window_s) > 1e-3
        or (have.num_replicas or 1) != spec.replicas
        or (have.max_age or 0) != (spec.max_age_s or 0)
    ):
        log.info("updating stream %s", spec.name)
        await js.update_stream(wanted)
