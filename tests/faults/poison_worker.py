"""A consumer process whose handler dies on a poison event, as a segfaulting library would.

    python poison_worker.py DATABASE_URL NATS_URL STREAM CONSUMER

Events whose envelope subject is ``poison`` end the process at once (``os._exit``); the
others insert their effect. Run under the devstack's supervisor, which restarts it.
"""

from __future__ import annotations

import asyncio
import os
import sys

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from keel_runtime.db import create_engine
from keel_runtime.events import Consumer, Envelope, Subscription, connect_nats

MAX_DELIVER = 3


async def handler(conn: AsyncConnection, envelope: Envelope) -> None:
    if envelope.subject == "poison":
        os._exit(3)
    await conn.execute(text("INSERT INTO effects VALUES (:id)"), {"id": envelope.id})


async def main(database_url: str, nats_url: str, stream: str, consumer: str) -> None:
    engine = create_engine(database_url)
    _, js = await connect_nats(nats_url, name=consumer)
    sub = Subscription(
        consumer=consumer,
        stream=stream,
        filter_subject=f"{stream.lower()}.>",
        handler=handler,
        max_deliver=MAX_DELIVER,
        batch=4,
    )
    await Consumer(engine, js, sub).run()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))
