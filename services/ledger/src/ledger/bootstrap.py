"""Composition root: the ledger handlers, jobs, sign-up consumer and servicers on the runtime."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from keel.ledger.v1 import (
    account_service_pb2_grpc,
    ledger_admin_service_pb2_grpc,
    transaction_service_pb2_grpc,
)

from keel_runtime.server import ServiceSpec
from keel_runtime.service import Assembly, ServiceDefinition
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
from ledger.storage.schema import SCHEMA
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


async def build(config: Config) -> ServiceSpec:
    """Wire the service; without ``config.nats_url`` the outbox fills but nothing relays it
    and no consumer runs (component tests of the gRPC surface alone)."""
    async with Assembly("ledger", config) as service:

        def unit_of_work() -> SqlUnitOfWork:
            return SqlUnitOfWork(service.engine, encode, org_id=call_scope())

        def read() -> SqlUnitOfWork:
            return SqlUnitOfWork(service.engine, encode, org_id=call_scope(), read_only=True)

        accounts = AccountHandlers(unit_of_work, utcnow, reads=read)
        transactions = TransactionHandlers(unit_of_work, utcnow)
        checkpointer = Checkpointer(unit_of_work, utcnow, checkpoint_key(config))
        queries = QueryHandlers(unit_of_work, utcnow, checkpointer, reads=read)
        # Released a full batch: more holds are due, so the next pass starts at once.
        service.every(
            transactions.expire_due,
            interval_s=config.expiry_interval_s,
            name="expire_holds",
            again=lambda released: released >= EXPIRY_BATCH,
        )
        # A failed checkpoint is retried at the next pass; the history it missed is still there.
        service.every(
            checkpointer.take, interval_s=config.checkpoint_interval_s, name="checkpoint_chains"
        )
        committer = None
        if config.group_commit_max > 1:
            committer = GroupCommitter(transactions, max_group=config.group_commit_max)
            service.run(committer.run)
        service.consume(open_wallet_subscription(accounts))
        return service.spec(
            [
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
            ERROR_MAP,
        )


DEFINITION = ServiceDefinition("ledger", SCHEMA, Config.from_env, build)
