"""Ledger reads through the gateway (REST): balance as of a time, several balances at once,
an account's entries with running balance; a transfer to the same account is a 400."""

from __future__ import annotations

import uuid

import httpx
import pytest
from e2e_support import (
    Json,
    Tenant,
    assert_status_error,
    get_json,
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

PLATFORM_ORG_ID = "00000000-0000-0000-0000-000000000000"


def _fund(mesh: Endpoints, wallet: Json, amount: int) -> tuple[str, str]:
    """Fund the wallet from a fresh platform funding account: (funding id, transaction time)."""
    asset = asset_pb2.Asset(code=wallet["asset"]["code"], scale=wallet["asset"]["scale"])
    metadata = service_metadata()
    with service_channel(mesh, "ledger") as channel:
        funding = (
            account_service_pb2_grpc.AccountServiceStub(channel)
            .CreateAccount(
                account_service_pb2.CreateAccountRequest(
                    request_id=f"e2e-funding-{uuid.uuid4()}",
                    organization_id=PLATFORM_ORG_ID,
                    kind=resources_pb2.ACCOUNT_KIND_FUNDING,
                    asset=asset,
                ),
                metadata=metadata,
                timeout=5,
            )
            .account
        )
        posted = (
            transaction_service_pb2_grpc.TransactionServiceStub(channel)
            .CreateTransaction(
                transaction_service_pb2.CreateTransactionRequest(
                    request_id=f"e2e-fund-{uuid.uuid4()}",
                    postings=[
                        resources_pb2.Posting(
                            account_id=funding.account_id,
                            side=resources_pb2.POSTING_SIDE_DEBIT,
                            amount=amount,
                            asset_code=asset.code,
                        ),
                        resources_pb2.Posting(
                            account_id=wallet["accountId"],
                            side=resources_pb2.POSTING_SIDE_CREDIT,
                            amount=amount,
                            asset_code=asset.code,
                        ),
                    ],
                ),
                metadata=metadata,
                timeout=5,
            )
            .transaction
        )
    return str(funding.account_id), posted.create_time.ToJsonString()


def test_ledger_reads_over_rest(gateway: httpx.Client, tenant: Tenant, mesh: Endpoints) -> None:
    wallet = wait_wallet(gateway, tenant)
    wallet_id = wallet["accountId"]
    _, funded_at = _fund(mesh, wallet, 700)

    path = f"/v1/accounts/{wallet_id}/balance"
    then = get_json(gateway, path, tenant, asOfTime=funded_at)["balance"]
    assert (int(then["creditsPosted"]), int(then["available"])) == (700, 700), then
    assert then["asOfTime"] == funded_at
    before = get_json(gateway, path, tenant, asOfTime="2000-01-01T00:00:00Z")["balance"]
    assert int(before.get("available", 0)) == 0, before

    (batch,) = get_json(gateway, "/v1/accounts:batchGetBalances", tenant, accountIds=[wallet_id])[
        "balances"
    ]
    assert (batch["accountId"], int(batch["available"])) == (wallet_id, 700), batch
    missing = gateway.get(
        "/v1/accounts:batchGetBalances",
        params={"accountIds": [wallet_id, str(uuid.uuid4())]},
        headers=tenant.auth,
    )
    assert_status_error(missing, http_status=404, code=5, reason="ACCOUNT_NOT_FOUND")

    (entry,) = get_json(gateway, f"/v1/accounts/{wallet_id}/entries", tenant)["entries"]
    assert (entry["sequence"], entry["bucket"], int(entry["amount"])) == (
        "1",
        "ENTRY_BUCKET_POSTED",
        700,
    ), entry
    assert int(entry["balance"]["available"]) == 700, entry

    leg = {"accountId": wallet_id, "amount": "700", "assetCode": wallet["asset"]["code"]}
    itself = gateway.post(
        "/v1/transactions",
        json={
            "requestId": f"invoice:{uuid.uuid4()}",
            "postings": [
                {**leg, "side": "POSTING_SIDE_DEBIT"},
                {**leg, "side": "POSTING_SIDE_CREDIT"},
            ],
        },
        headers=tenant.auth,
    )
    assert_status_error(itself, http_status=400, code=3, reason="ACCOUNTS_MUST_BE_DIFFERENT")
