"""Over gRPC: a request_id is the caller's (its organization, and which service it is)."""

from __future__ import annotations

import uuid

import grpc
import pytest
from keel.ledger.v1 import account_service_pb2 as acc
from keel.ledger.v1 import resources_pb2 as res
from keel.type.v1 import asset_pb2

from .conftest import Client
from .test_ledger_api import error_info, open_account, transfer

BOUNDED = res.BALANCE_BOUND_DEBITS_MUST_NOT_EXCEED_CREDITS


def service(client: Client, org_id: str, name: str) -> list[tuple[str, str]]:
    """An internal service called ``name`` acting for ``org_id`` (billing pays this way)."""
    return client.as_(org_id, roles=(), kind="service", subject=name)


async def funded_wallet(client: Client, org_id: str, amount: int) -> tuple[str, str]:
    """A wallet of ``org_id`` holding ``amount``, and the funding account that paid it."""
    operator = service(client, org_id, "items")
    member = client.as_(org_id)
    wallet = (
        await client.accounts.CreateAccount(
            acc.CreateAccountRequest(
                kind=res.ACCOUNT_KIND_WALLET,
                asset=asset_pb2.Asset(code="USD", scale=2),
                balance_bound=BOUNDED,
            ),
            metadata=member,
        )
    ).account
    funding = (
        await client.accounts.CreateAccount(
            acc.CreateAccountRequest(
                kind=res.ACCOUNT_KIND_FUNDING, asset=asset_pb2.Asset(code="USD", scale=2)
            ),
            metadata=operator,
        )
    ).account
    await client.transactions.CreateTransaction(
        transfer(funding.account_id, wallet.account_id, amount, f"fund:{uuid.uuid4()}"),
        metadata=operator,
    )
    return wallet.account_id, funding.account_id


async def test_a_tenants_request_id_does_not_block_billing(client: Client) -> None:
    """A member takes ``invoice:<id>`` first; billing's payment of that invoice still posts."""
    wallet, funding = await funded_wallet(client, client.org_id, 100)
    revenue = await open_account(
        client, res.ACCOUNT_KIND_REVENUE, metadata=service(client, client.org_id, "billing")
    )
    rid = f"invoice:{uuid.uuid4()}"
    mine = (
        await client.transactions.CreateTransaction(
            transfer(wallet, funding, 10, rid), metadata=client.md
        )
    ).transaction
    billing = service(client, client.org_id, "billing")
    paid = (
        await client.transactions.CreateTransaction(
            transfer(wallet, revenue.account_id, 90, rid), metadata=billing
        )
    ).transaction
    assert paid.transaction_id != mine.transaction_id
    assert paid.postings[0].amount == 90
    # Each caller's replay finds its own transaction.
    again = await client.transactions.CreateTransaction(
        transfer(wallet, revenue.account_id, 90, rid), metadata=billing
    )
    assert again.transaction.transaction_id == paid.transaction_id
    mine_again = await client.transactions.CreateTransaction(
        transfer(wallet, funding, 10, rid), metadata=client.md
    )
    assert mine_again.transaction.transaction_id == mine.transaction_id
    # Another service in the same organization has its own keys too.
    other = await client.transactions.CreateTransaction(
        transfer(funding, wallet, 1, rid), metadata=service(client, client.org_id, "items")
    )
    assert other.transaction.transaction_id not in (mine.transaction_id, paid.transaction_id)


async def test_two_orgs_same_request_id_are_independent(client: Client) -> None:
    other_org = str(uuid.uuid4())
    first_wallet, first_funding = await funded_wallet(client, client.org_id, 50)
    second_wallet, second_funding = await funded_wallet(client, other_org, 50)
    a = await client.transactions.CreateTransaction(
        transfer(first_wallet, first_funding, 20, "spend"), metadata=client.md
    )
    b = await client.transactions.CreateTransaction(
        transfer(second_wallet, second_funding, 30, "spend"), metadata=client.as_(other_org)
    )
    assert a.transaction.transaction_id != b.transaction.transaction_id
    assert (a.transaction.organization_id, b.transaction.organization_id) == (
        client.org_id,
        other_org,
    )


async def test_one_org_shares_its_keys_between_members_and_api_keys(client: Client) -> None:
    wallet, funding = await funded_wallet(client, client.org_id, 50)
    first = await client.transactions.CreateTransaction(
        transfer(wallet, funding, 20, "spend"), metadata=client.md
    )
    key = client.as_(client.org_id, roles=(), kind="api_key", scope="ledger:write")
    replay = await client.transactions.CreateTransaction(
        transfer(wallet, funding, 20, "spend"), metadata=key
    )
    assert replay.transaction == first.transaction
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await client.transactions.CreateTransaction(
            transfer(wallet, funding, 21, "spend"), metadata=client.as_(client.org_id)
        )
    assert info.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert error_info(info.value).reason == "REQUEST_ID_REUSED"
    balance = await client.accounts.GetBalance(
        acc.GetBalanceRequest(account_id=wallet), metadata=client.md
    )
    assert balance.balance.available == 30


def open_request(kind: int, rid: str, **kw: object) -> acc.CreateAccountRequest:
    bound = BOUNDED if kind == res.ACCOUNT_KIND_WALLET else res.BALANCE_BOUND_NONE
    return acc.CreateAccountRequest(
        request_id=rid,
        kind=kind,
        asset=asset_pb2.Asset(code="USD", scale=2),
        balance_bound=bound,
        **kw,  # type: ignore[arg-type]
    )


async def test_create_account_replays_by_request_id(client: Client) -> None:
    operator = service(client, client.org_id, "items")
    request = open_request(res.ACCOUNT_KIND_FUNDING, "funding-usd", metadata={"desk": "eu"})
    first = (await client.accounts.CreateAccount(request, metadata=operator)).account
    again = (await client.accounts.CreateAccount(request, metadata=operator)).account
    assert again == first
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await client.accounts.CreateAccount(
            open_request(res.ACCOUNT_KIND_FUNDING, "funding-usd", metadata={"desk": "us"}),
            metadata=operator,
        )
    assert info.value.code() == grpc.StatusCode.ALREADY_EXISTS
    found = error_info(info.value)
    assert (found.reason, found.metadata["request_id"]) == ("REQUEST_ID_REUSED", "funding-usd")
    listed = await client.accounts.ListAccounts(
        acc.ListAccountsRequest(kind=res.ACCOUNT_KIND_FUNDING), metadata=client.md
    )
    assert [a.account_id for a in listed.accounts] == [first.account_id]


async def test_create_account_request_ids_are_the_callers(client: Client) -> None:
    """A service opening an account for an org does not take the org's own request id."""
    billing = service(client, client.org_id, "billing")
    receivable = (
        await client.accounts.CreateAccount(
            open_request(res.ACCOUNT_KIND_RECEIVABLE, "usd"), metadata=billing
        )
    ).account
    wallet = (
        await client.accounts.CreateAccount(
            open_request(res.ACCOUNT_KIND_WALLET, "usd"), metadata=client.md
        )
    ).account
    assert wallet.account_id != receivable.account_id
    assert wallet.kind == res.ACCOUNT_KIND_WALLET
    # Each caller's repeat finds its own account; a member never gets the service's.
    key = client.as_(client.org_id, roles=(), kind="api_key", scope="ledger:write")
    mine = await client.accounts.CreateAccount(
        open_request(res.ACCOUNT_KIND_WALLET, "usd"), metadata=key
    )
    assert mine.account == wallet
    theirs = await client.accounts.CreateAccount(
        open_request(res.ACCOUNT_KIND_RECEIVABLE, "usd"), metadata=billing
    )
    assert theirs.account == receivable
