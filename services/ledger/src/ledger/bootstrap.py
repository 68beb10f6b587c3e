"""Composition root: engine, NATS, handlers, relay, consumer, sweeper and servicers."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from keel.ledger.v1 import (
    account_service_pb2_grpc,
    ledger_admin_service_pb2_grpc,
    transaction_service_pb2_grpc,
)

from keel_runtime import db
from keel_runtime.events import (
    Consumer,
    OutboxRelay,
    connect_nats,
    ensure_stream,
)
from keel_runtime.events.revocation_feed import RevocationFeed
from keel_runtime.metrics import Metrics
from keel_runtime.periodic import run_periodically
from keel_runtime.server import ServiceSpec
from ledger.app.accounts import AccountHandlers
from ledger.app.checkpoints import Checkpointer
from ledger.app.group_commit import GroupCommitter
from ledger.app.queries import QueryHandlers
from ledger.app.tenancy import call_scope
from ledger.app.transactions import EXPIRY_BATCH, TransactionHandlers
from ledger.config import Config
from ledger.domain.checkpoint import CheckpointKey
from ledger.events.codec import encode
from ledger.events.subscribers import open_wallet_subscription
from ledger.storage.uow import SqlUnitOfWork
from ledger.transport.accounts import AccountServicer
from ledger.transport.admin import LedgerAdminServicer
from ledger.transport.errors import ERROR_MAP
from ledger.transport.transactions import TransactionServicer

log = logging.getLogger(__name__)


def utcnow() -> datetime:
    return datetime.now(UTC)


def checkpoint_key(config: Config) -> CheckpointKey:
    """The configured checkpoint key, or a random one for this process (development only)."""
    if config.checkpoint_key is not None:
        return config.checkpoint_key
    log.warning(
        "LEDGER_CHECKPOINT_KEY is not set: checkpoints are MACed with a random key made for "
        "this process only (a development default). They cannot be verified after a restart, "
        "and anyone reading this process's memory holds the key. Set LEDGER_CHECKPOINT_KEY "
        "(base64 of 32 random bytes, from a secret store) everywhere else."
    )
    return CheckpointKey.generate()


async def build(
    config: Config, *, events: bool = True, relay_poll_interval: float = 0.2
) -> ServiceSpec:
    """Connect to PostgreSQL (and NATS unless ``events`` is False) and wire the service.

    Without events the outbox still fills but nothing relays it and no consumer runs:
    component tests use that to exercise the gRPC surface alone.
    """
    metrics = Metrics("ledger")
    engine = db.create_engine(config.database_url)

    def unit_of_work() -> SqlUnitOfWork:
        return SqlUnitOfWork(engine, encode, org_id=call_scope())

    accounts = AccountHandlers(unit_of_work, utcnow)
    transactions = TransactionHandlers(unit_of_work, utcnow)
    checkpointer = Checkpointer(unit_of_work, utcnow, checkpoint_key(config))
    queries = QueryHandlers(unit_of_work, utcnow, checkpointer)

    background: list[Callable[[], Awaitable[None]]] = [
        # Released a full batch: more holds are due, so the next pass starts at once.
        functools.partial(
            run_periodically,
            transactions.expire_due,
            interval_s=config.expiry_interval_s,
            name="expire_holds",
            metrics=metrics,
            again=lambda released: released >= EXPIRY_BATCH,
        ),
        # A failed checkpoint is retried at the next pass; the history it missed is still there.
        functools.partial(
            run_periodically,
            checkpointer.take,
            interval_s=config.checkpoint_interval_s,
            name="checkpoint_chains",
            metrics=metrics,
        ),
    ]
    committer = None
    if config.group_commit_max > 1:
        committer = GroupCommitter(transactions, max_group=config.group_commit_max)
        background.append(committer.run)
    closers: list[Callable[[], Awaitable[None]]] = [engine.dispose]
    nats = None
    revocations = None
    if events:
        try:
            nats, js = await connect_nats(config.nats_url, name="ledger", tls=config.tls)
            await ensure_stream(js, config.streams.service_stream("ledger"))
            # The stream we consume; identity declares it too, whoever starts first creates it.
            await ensure_stream(js, config.streams.service_stream("identity"))
        except BaseException:
            await engine.dispose()
            raise

        relay = OutboxRelay(engine, js, poll_interval=relay_poll_interval, metrics=metrics)
        open_wallet = Consumer(
            engine,
            js,
            open_wallet_subscription(accounts),
            dead_letter_stream=config.streams.dead_letter_stream(),
            metrics=metrics,
        )
        background += [relay.run, open_wallet.run]
        closers.insert(0, nats.drain)
        revocations = RevocationFeed(js)

    return ServiceSpec(
        name="ledger",
        servicers=[
            (
                account_service_pb2_grpc.add_AccountServiceServicer_to_server,
                AccountServicer(accounts),
            ),
            (
                transaction_service_pb2_grpc.add_TransactionServiceServicer_to_server,
                TransactionServicer(transactions, queries, committer),
            ),
            (
                ledger_admin_service_pb2_grpc.add_LedgerAdminServiceServicer_to_server,
                LedgerAdminServicer(queries),
            ),
        ],
        error_map=ERROR_MAP,
        background=background,
        closers=closers,
        database=engine,
        nats=nats,
        metrics=metrics,
        revocations=revocations,
    )
