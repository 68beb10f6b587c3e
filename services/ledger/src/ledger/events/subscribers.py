"""Subscribers: other services' events -> ledger commands."""

from __future__ import annotations

from keel.identity.v1 import events_pb2 as identity_events
from sqlalchemy.ext.asyncio import AsyncConnection

from keel_runtime.events import Envelope, Subscription, unpack
from ledger.app.accounts import AccountHandlers
from ledger.app.commands import OpenWallet
from ledger.events.codec import encode
from ledger.storage.uow import ConnectionUnitOfWork

OPEN_WALLET_CONSUMER = "ledger-open-wallet"


def open_wallet_subscription(
    accounts: AccountHandlers,
    *,
    stream: str = "IDENTITY",
    filter_subject: str = "identity.organization.created",
    consumer: str = OPEN_WALLET_CONSUMER,
) -> Subscription:
    """identity.organization.created -> open the organization's wallet (once).

    Stream, subject and consumer are parameters only so tests can use their own.
    """

    async def handle(connection: AsyncConnection, envelope: Envelope) -> None:
        created = unpack(envelope, identity_events.OrganizationCreated)
        command = OpenWallet(
            org_id=created.organization_id or envelope.org_id,
            currency=created.default_currency,
        )
        uow = ConnectionUnitOfWork(connection, encode)
        await accounts.open_wallet_in(uow, command)
        await uow.commit()

    return Subscription(
        consumer=consumer,
        stream=stream,
        filter_subject=filter_subject,
        handler=handle,
    )
