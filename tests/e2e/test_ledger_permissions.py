"""Through the gateway, an organization's OWNER cannot mint money: no platform or unbounded
accounts, no debits out of them, and no spending beyond what the wallet holds."""

from __future__ import annotations

import uuid

import httpx
import pytest
from e2e_support import (
    Json,
    Tenant,
    assert_status_error,
    get_json,
    request_id,
    service_channel,
    service_metadata,
    wait_wallet,
)
from keel.ledger.v1 import (
    account_service_pb2,
    account_service_pb2_grpc,
    resources_pb2,
    transaction_service_pb2,
    transaction_service_pb2_grpc,
)
from keel.type.v1 import asset_pb2

from keel_devstack.stack import Endpoints

pytestmark = pytest.mark.e2e

PERMISSION_DENIED = 7
FAILED_PRECONDITION = 9


def _open(gateway: httpx.Client, tenant: Tenant, **fields: object) -> httpx.Response:
    body: Json = {"requestId": request_id(), "asset": {"code": "USD", "scale": 2}, **fields}
    return gateway.post("/v1/accounts", json=body, headers=tenant.auth)


def _transfer(
    gateway: httpx.Client, tenant: Tenant, source: str, dest: str, amount: int
) -> httpx.Response:
    legs = [
        {"accountId": source, "side": "POSTING_SIDE_DEBIT", "amount": str(amount)},
        {"accountId": dest, "side": "POSTING_SIDE_CREDIT", "amount": str(amount)},
    ]
    body = {"requestId": request_id(), "postings": [{**leg, "assetCode": "USD"} for leg in legs]}
    return gateway.post("/v1/transactions", json=body, headers=tenant.auth)


def _available(gateway: httpx.Client, tenant: Tenant, account_id: str) -> int:
    balance = get_json(gateway, f"/v1/accounts/{account_id}/balance", tenant)["balance"]
    return int(balance.get("available", 0))


def _operator_funding(mesh: Endpoints, tenant: Tenant) -> str:
    """A FUNDING account in the tenant's organization, opened by an internal operator tool."""
    with service_channel(mesh, "ledger") as channel:
        accounts = account_service_pb2_grpc.AccountServiceStub(channel)
        response = accounts.CreateAccount(
            account_service_pb2.CreateAccountRequest(
                request_id=f"e2e-funding-{uuid.uuid4()}",
                organization_id=tenant.org_id,
                kind=resources_pb2.ACCOUNT_KIND_FUNDING,
                asset=asset_pb2.Asset(code="USD", scale=2),
                balance_bound=resources_pb2.BALANCE_BOUND_NONE,
            ),
            metadata=service_metadata(),
            timeout=5,
        )
    return str(response.account.account_id)


def _operator_fund(mesh: Endpoints, source: str, dest: str, amount: int) -> None:
    with service_channel(mesh, "ledger") as channel:
        transactions = transaction_service_pb2_grpc.TransactionServiceStub(channel)
        transactions.CreateTransaction(
            transaction_service_pb2.CreateTransactionRequest(
                request_id=f"e2e-fund-{uuid.uuid4()}",
                postings=[
                    resources_pb2.Posting(
                        account_id=source,
                        side=resources_pb2.POSTING_SIDE_DEBIT,
                        amount=amount,
                        asset_code="USD",
                    ),
                    resources_pb2.Posting(
                        account_id=dest,
                        side=resources_pb2.POSTING_SIDE_CREDIT,
                        amount=amount,
                        asset_code="USD",
                    ),
                ],
            ),
            metadata=service_metadata(),
            timeout=5,
        )


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        (
            {"kind": "ACCOUNT_KIND_FUNDING", "balanceBound": "BALANCE_BOUND_NONE"},
            "SYSTEM_ACCOUNT_REQUIRES_SERVICE",
        ),
        # Even bounded, the platform's books are not the customer's to open.
        (
            {
                "kind": "ACCOUNT_KIND_REVENUE",
                "balanceBound": "BALANCE_BOUND_DEBITS_MUST_NOT_EXCEED_CREDITS",
            },
            "SYSTEM_ACCOUNT_REQUIRES_SERVICE",
        ),
        (
            {"kind": "ACCOUNT_KIND_WALLET", "balanceBound": "BALANCE_BOUND_NONE"},
            "UNBOUNDED_ACCOUNT_REQUIRES_SERVICE",
        ),
        ({"kind": "ACCOUNT_KIND_WALLET"}, "UNBOUNDED_ACCOUNT_REQUIRES_SERVICE"),
        (
            {
                "kind": "ACCOUNT_KIND_WALLET",
                "balanceBound": "BALANCE_BOUND_DEBITS_MUST_NOT_EXCEED_CREDITS",
                "overdraftLimit": "100000",
            },
            "OVERDRAFT_REQUIRES_SERVICE",
        ),
    ],
)
def test_owner_cannot_open_platform_or_unbounded_accounts(
    gateway: httpx.Client, tenant: Tenant, fields: Json, reason: str
) -> None:
    wallet = wait_wallet(gateway, tenant)
    response = _open(gateway, tenant, **fields)
    assert response.status_code == 403, response.text
    assert_status_error(response, http_status=403, code=PERMISSION_DENIED, reason=reason)
    accounts = get_json(gateway, "/v1/accounts", tenant)["accounts"]
    assert [a["accountId"] for a in accounts] == [wallet["accountId"]], accounts


def test_owner_cannot_mint_into_or_overdraw_the_wallet(
    gateway: httpx.Client, tenant: Tenant, mesh: Endpoints
) -> None:
    wallet = wait_wallet(gateway, tenant)["accountId"]
    funding = _operator_funding(mesh, tenant)

    minted = _transfer(gateway, tenant, funding, wallet, 1_000_000)
    assert_status_error(
        minted,
        http_status=403,
        code=PERMISSION_DENIED,
        reason="UNBOUNDED_DEBIT_REQUIRES_SERVICE",
    )
    assert _available(gateway, tenant, wallet) == 0

    overdrawn = _transfer(gateway, tenant, wallet, funding, 1)
    assert_status_error(
        overdrawn, http_status=400, code=FAILED_PRECONDITION, reason="INSUFFICIENT_FUNDS"
    )

    # Money an internal service put in is the owner's to spend, and no more.
    _operator_fund(mesh, funding, wallet, 250)
    assert _available(gateway, tenant, wallet) == 250
    spent = _transfer(gateway, tenant, wallet, funding, 250)
    assert spent.status_code == 200, spent.text
    assert spent.json()["transaction"]["state"] == "TRANSACTION_STATE_POSTED"
    again = _transfer(gateway, tenant, wallet, funding, 1)
    assert_status_error(
        again, http_status=400, code=FAILED_PRECONDITION, reason="INSUFFICIENT_FUNDS"
    )
    assert _available(gateway, tenant, wallet) == 0
