"""Over gRPC: members cannot mint money; internal services keep the platform's books."""

from __future__ import annotations

import uuid

import grpc
import pytest
from keel.ledger.v1 import account_service_pb2 as acc
from keel.ledger.v1 import ledger_admin_service_pb2 as adm
from keel.ledger.v1 import resources_pb2 as res
from keel.ledger.v1 import transaction_service_pb2 as txs
from keel.type.v1 import asset_pb2

from .conftest import Client
from .test_ledger_api import error_info, open_account, open_funding, transfer

BOUNDED = res.BALANCE_BOUND_DEBITS_MUST_NOT_EXCEED_CREDITS
SYSTEM_KINDS = [
    value
    for name, value in res.AccountKind.items()
    if name not in ("ACCOUNT_KIND_UNSPECIFIED", "ACCOUNT_KIND_WALLET")
]
PLATFORM_ORG_ID = "00000000-0000-0000-0000-000000000000"


async def refused(call: object, reason: str) -> None:
    """Await the call; it must fail PERMISSION_DENIED with ErrorInfo ``reason``."""
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call  # type: ignore[misc]
    assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED, info.value.details()
    found = error_info(info.value)
    assert (found.reason, found.domain) == (reason, "ledger.keel"), found


async def available(client: Client, account_id: str) -> int:
    got = await client.accounts.GetBalance(
        acc.GetBalanceRequest(account_id=account_id), metadata=client.md
    )
    return got.balance.available


def create(kind: int, bound: int = 0, overdraft: int = 0, **kw: str) -> acc.CreateAccountRequest:
    return acc.CreateAccountRequest(
        kind=kind,
        asset=asset_pb2.Asset(code="USD", scale=2),
        balance_bound=bound,
        overdraft_limit=overdraft,
        **kw,
    )


async def test_members_cannot_open_the_platforms_or_unbounded_accounts(client: Client) -> None:
    owner, admin = client.md, client.as_(client.org_id, roles=("ADMIN",))
    key = client.as_(client.org_id, roles=(), kind="api_key", scope="ledger:write")
    for who in (owner, admin, key):
        for kind in SYSTEM_KINDS:
            await refused(
                client.accounts.CreateAccount(create(kind, BOUNDED), metadata=who),
                "SYSTEM_ACCOUNT_REQUIRES_SERVICE",
            )
        for bound in (0, res.BALANCE_BOUND_NONE, res.BALANCE_BOUND_CREDITS_MUST_NOT_EXCEED_DEBITS):
            await refused(
                client.accounts.CreateAccount(create(res.ACCOUNT_KIND_WALLET, bound), metadata=who),
                "UNBOUNDED_ACCOUNT_REQUIRES_SERVICE",
            )
        await refused(
            client.accounts.CreateAccount(
                create(res.ACCOUNT_KIND_WALLET, BOUNDED, overdraft=1_000), metadata=who
            ),
            "OVERDRAFT_REQUIRES_SERVICE",
        )
    listed = await client.accounts.ListAccounts(acc.ListAccountsRequest(), metadata=owner)
    assert list(listed.accounts) == []

    wallet = await open_account(client, res.ACCOUNT_KIND_WALLET, BOUNDED)
    assert (wallet.balance_bound, wallet.overdraft_limit) == (BOUNDED, 0)


async def test_services_open_system_accounts_for_any_org(client: Client) -> None:
    for kind in SYSTEM_KINDS:
        opened = await open_account(client, kind, metadata=client.service)
        assert (opened.kind, opened.organization_id) == (kind, client.org_id)
    # As billing does: its own principal in the platform org, opening revenue there.
    billing = client.as_(PLATFORM_ORG_ID, roles=(), kind="service")
    revenue = await client.accounts.CreateAccount(
        create(
            res.ACCOUNT_KIND_REVENUE,
            request_id=f"rev-{uuid.uuid4()}",
            organization_id=PLATFORM_ORG_ID,
        ),
        metadata=billing,
    )
    assert revenue.account.organization_id == PLATFORM_ORG_ID


async def test_members_cannot_mint_into_their_wallet(client: Client) -> None:
    wallet = await open_account(client, res.ACCOUNT_KIND_WALLET, BOUNDED)
    funding = await open_funding(client)
    mint = transfer(funding.account_id, wallet.account_id, 1_000_000, "mint")
    await refused(
        client.transactions.CreateTransaction(mint, metadata=client.md),
        "UNBOUNDED_DEBIT_REQUIRES_SERVICE",
    )
    await refused(
        client.transactions.CreateTransactionBatch(
            txs.CreateTransactionBatchRequest(requests=[mint]), metadata=client.md
        ),
        "UNBOUNDED_DEBIT_REQUIRES_SERVICE",
    )
    hold = transfer(funding.account_id, wallet.account_id, 10, "hold", pending=txs.PendingOptions())
    await refused(
        client.transactions.CreateTransaction(hold, metadata=client.md),
        "UNBOUNDED_DEBIT_REQUIRES_SERVICE",
    )
    assert await available(client, wallet.account_id) == 0

    # Spending is bounded by what the wallet holds.
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await client.transactions.CreateTransaction(
            transfer(wallet.account_id, funding.account_id, 1, "overdraw"), metadata=client.md
        )
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_info(info.value).reason == "INSUFFICIENT_FUNDS"

    # An internal service funds the wallet; the member spends exactly that much.
    await client.transactions.CreateTransaction(
        transfer(funding.account_id, wallet.account_id, 300, "fund"), metadata=client.service
    )
    spent = await client.transactions.CreateTransaction(
        transfer(wallet.account_id, funding.account_id, 300, "spend"), metadata=client.md
    )
    assert spent.transaction.state == res.TRANSACTION_STATE_POSTED
    assert await available(client, wallet.account_id) == 0
    report = await client.admin.VerifyLedger(adm.VerifyLedgerRequest(), metadata=client.service)
    assert report.ok


async def test_billing_pays_from_a_wallet_into_platform_revenue(client: Client) -> None:
    wallet = await open_account(client, res.ACCOUNT_KIND_WALLET, BOUNDED)
    funding = await open_funding(client)
    await client.transactions.CreateTransaction(
        transfer(funding.account_id, wallet.account_id, 150, "fund"), metadata=client.service
    )
    billing = client.as_(PLATFORM_ORG_ID, roles=(), kind="service")
    revenue = (
        await client.accounts.CreateAccount(
            create(res.ACCOUNT_KIND_REVENUE, organization_id=PLATFORM_ORG_ID), metadata=billing
        )
    ).account
    # Billing pays as itself for the invoice's organization (ledger_client.pay_invoice).
    paid = await client.transactions.CreateTransaction(
        transfer(wallet.account_id, revenue.account_id, 150, f"invoice:{uuid.uuid4()}"),
        metadata=client.as_(client.org_id, roles=(), kind="service"),
    )
    assert paid.transaction.state == res.TRANSACTION_STATE_POSTED
    assert await available(client, wallet.account_id) == 0


def in_asset(
    code: str, scale: int, kind: int = res.ACCOUNT_KIND_WALLET
) -> acc.CreateAccountRequest:
    return acc.CreateAccountRequest(
        kind=kind, asset=asset_pb2.Asset(code=code, scale=scale), balance_bound=BOUNDED
    )


async def test_a_member_cannot_give_a_new_asset_a_scale_for_every_organization(
    client: Client,
) -> None:
    """Assets are the ledger's, not an organization's: the first account in a code fixes its
    scale for everyone. A member choosing it could make every organization's wallet in that
    currency unopenable (JPY at 5 places, say)."""
    member = client.md
    code = f"Q{uuid.uuid4().hex[:8].upper()}"
    await refused(
        client.accounts.CreateAccount(in_asset(code, 5), metadata=member),
        "ASSET_REQUIRES_SERVICE",
    )
    # A currency code at another scale than its own, likewise (KWD has three places).
    await refused(
        client.accounts.CreateAccount(in_asset("KWD", 5), metadata=member),
        "ASSET_REQUIRES_SERVICE",
    )
    # At a currency's own scale (two places for a code that is no known exception) it opens.
    opened = await client.accounts.CreateAccount(in_asset("KWD", 3), metadata=member)
    assert opened.account.asset.scale == 3
    # A service registers an asset at the scale it chooses; members then use it at that scale.
    service = client.as_(client.org_id, roles=(), kind="service")
    await client.accounts.CreateAccount(
        in_asset(code, 5, res.ACCOUNT_KIND_REVENUE), metadata=service
    )
    again = await client.accounts.CreateAccount(in_asset(code, 5), metadata=member)
    assert again.account.asset.code == code
