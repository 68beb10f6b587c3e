"""Invoice payments with billing or ledger killed (SIGKILL) while payments are in flight.

Each tenant has a funded wallet and one OPEN invoice of 150 cents; all are paid at once and
the process is killed meanwhile. A client retries its payment until answered, as a real one
would. No invoice may be charged twice (one ledger transaction per invoice at most, each
wallet debited at most once), and every payment acknowledged must be PAID and debited.

The invoice-payment reconciler (an invoice left OPEN after the ledger debited it, when no
client retries) is not part of this branch: these cases check "no double charge" and that
an acknowledged payment is complete, not that an abandoned one completes by itself.
"""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from typing import Any

import grpc
import httpx
import psycopg
import pytest
from faults_support import (
    PASSWORD,
    Outcome,
    all_serving,
    record,
    sign_up_body,
    table,
    until,
    workload_credentials,
)
from keel.ledger.v1 import (
    account_service_pb2,
    account_service_pb2_grpc,
    resources_pb2,
    transaction_service_pb2,
    transaction_service_pb2_grpc,
)
from keel.type.v1 import asset_pb2

from keel_devstack.stack import Stack

pytestmark = [pytest.mark.faults, pytest.mark.e2e, pytest.mark.timeout(600)]

Json = dict[str, Any]
TENANTS = 8
FUNDS = 1_000
USAGE = 130  # the default plan includes 100 items, then 5 cents each: 150 cents
PLATFORM_ORG_ID = "00000000-0000-0000-0000-000000000000"


class Tenant:
    def __init__(self, client: httpx.AsyncClient, tag: str) -> None:
        self.client = client
        self.tag = tag
        self.auth: dict[str, str] = {}
        self.org_id = ""
        self.wallet: Json = {}
        self.invoice_id = ""
        self.paid_answer: Json | None = None

    async def _json(self, method: str, path: str, body: Json | None = None) -> Json:
        response = await self.client.request(method, path, json=body, headers=self.auth)
        assert response.status_code == 200, (path, response.status_code, response.text)
        answer: Json = response.json()
        return answer

    async def prepare(self, stack: Stack) -> None:
        """Sign up, wait for wallet and subscription, fund the wallet, close a period."""
        body = sign_up_body(self.tag)
        self.org_id = (await self._json("POST", "/v1/organizations", body))["organization"][
            "organizationId"
        ]
        login = {"email": body["ownerEmail"], "password": PASSWORD}
        grant = (await self._json("POST", "/v1/sessions", login))["grant"]
        self.auth = {"authorization": f"Bearer {grant['accessToken']}"}
        wallets: list[Json] = []
        subscriptions: list[Json] = []

        async def opened() -> None:
            accounts = (await self._json("GET", "/v1/accounts"))["accounts"]
            wallets[:] = [a for a in accounts if a["kind"] == "ACCOUNT_KIND_WALLET"]
            subscriptions[:] = (await self._json("GET", "/v1/subscriptions"))["subscriptions"]

        async with asyncio.timeout(60):
            while not (wallets and subscriptions):
                await opened()
                await asyncio.sleep(0.2)
        self.wallet = wallets[0]
        assert stack.endpoints is not None
        await asyncio.to_thread(
            _fund,
            stack.endpoints.services["ledger"],
            workload_credentials(stack, "billing"),
            self.wallet,
            FUNDS,
        )
        usage = {"metric": "items.confirmed", "quantity": str(USAGE), "dedupKey": "faults-1"}
        await self._json("POST", "/v1/usage:record", {"usage": usage})
        path = f"/v1/subscriptions/{subscriptions[0]['subscriptionId']}:closeBillingPeriod"
        invoice = (await self._json("POST", path, {"requestId": str(uuid.uuid4())}))["invoice"]
        assert invoice["state"] == "INVOICE_STATE_OPEN", invoice
        assert int(invoice["total"]["amount"]) == 150, invoice
        self.invoice_id = invoice["invoiceId"]

    async def pay(self, give_up: float) -> None:
        """Pay until answered: retries are what a client does after a lost answer."""
        while time.monotonic() < give_up:
            try:
                response = await self.client.post(
                    f"/v1/invoices/{self.invoice_id}:pay", json={}, headers=self.auth
                )
            except httpx.HTTPError:
                response = None
            if response is not None and response.status_code == 200:
                self.paid_answer = response.json()["invoice"]
                return
            await asyncio.sleep(0.25)


def _fund(ledger: str, credentials: grpc.ChannelCredentials, wallet: Json, amount: int) -> None:
    """Move ``amount`` into the wallet from a fresh funding account, as the platform: the
    service principal billing, which is its own certificate (``credentials``) and no token."""
    asset = asset_pb2.Asset(code=wallet["asset"]["code"], scale=wallet["asset"]["scale"])
    metadata: list[tuple[str, str]] = []
    with grpc.secure_channel(ledger, credentials) as channel:
        funding = (
            account_service_pb2_grpc.AccountServiceStub(channel)
            .CreateAccount(
                account_service_pb2.CreateAccountRequest(
                    request_id=f"faults-funding-{uuid.uuid4()}",
                    organization_id=PLATFORM_ORG_ID,
                    kind=resources_pb2.ACCOUNT_KIND_FUNDING,
                    asset=asset,
                    balance_bound=resources_pb2.BALANCE_BOUND_NONE,
                ),
                metadata=metadata,
                timeout=10,
            )
            .account
        )
        transaction_service_pb2_grpc.TransactionServiceStub(channel).CreateTransaction(
            transaction_service_pb2.CreateTransactionRequest(
                request_id=f"faults-fund-{uuid.uuid4()}",
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
            timeout=10,
        )


def _charges(stack: Stack, tenants: list[Tenant]) -> tuple[dict[str, int], dict[str, str]]:
    """Ledger transactions per invoice, and each invoice's state in billing."""
    assert stack.endpoints is not None
    ids = [t.invoice_id for t in tenants]
    with psycopg.connect(stack.endpoints.databases["ledger"]) as conn:
        rows = conn.execute(
            "SELECT request_id, count(*) FROM transactions WHERE request_id = ANY(%s)"
            " GROUP BY request_id",
            ([f"invoice:{i}" for i in ids],),
        ).fetchall()
    with psycopg.connect(stack.endpoints.databases["billing"]) as conn:
        states = conn.execute(
            "SELECT invoice_id::text, state FROM invoices WHERE invoice_id::text = ANY(%s)",
            (ids,),
        ).fetchall()
    return {str(r[0]).removeprefix("invoice:"): int(r[1]) for r in rows}, {
        str(i): str(s) for i, s in states
    }


async def _balance(tenant: Tenant) -> int:
    path = f"/v1/accounts/{tenant.wallet['accountId']}/balance"
    balance = (await tenant._json("GET", path))["balance"]
    return int(balance.get("available", 0))


async def _payments_case(stack: Stack, killed: str) -> None:
    assert stack.endpoints is not None and stack.endpoints.gateway_url is not None
    await all_serving(stack)
    began = time.monotonic()
    async with httpx.AsyncClient(base_url=stack.endpoints.gateway_url, timeout=10.0) as client:
        tag = f"faults-pay-{killed}-{uuid.uuid4().hex[:6]}"
        tenants = [Tenant(client, tag) for _ in range(TENANTS)]
        await asyncio.gather(*(t.prepare(stack) for t in tenants))

        give_up = time.monotonic() + 90
        paying = asyncio.gather(*(t.pay(give_up) for t in tenants))
        # Kill once the first payment is through: the others are in flight.
        await until(lambda: any(t.paid_answer for t in tenants), within=60, pause=0.01)
        stack.signal(killed, signal.SIGKILL)
        await paying
        await all_serving(stack)
        charges, states = await asyncio.to_thread(_charges, stack, tenants)
        balances = [await _balance(t) for t in tenants]

    acknowledged = [t for t in tenants if t.paid_answer is not None]
    paid = [t for t in tenants if states.get(t.invoice_id) == "paid"]
    debited = [b for b in balances if b == FUNDS - 150]
    outcome = Outcome(
        case=f"payments, kill -9 {killed}",
        acknowledged=len(acknowledged),
        present=len([t for t in acknowledged if states.get(t.invoice_id) == "paid"]),
        expected=len(acknowledged),
        delivered=len([t for t in acknowledged if charges.get(t.invoice_id) == 1]),
        lost=len(acknowledged) - len([t for t in acknowledged if t in paid]),
        double_effects=sum(n - 1 for n in charges.values() if n > 1)
        + len([b for b in balances if b < FUNDS - 150]),
        seconds=time.monotonic() - began,
        notes=[
            f"{len(paid)} paid, {len(debited)} wallets debited once, "
            f"{sum(charges.values())} ledger charges (an abandoned payment is the reconciler's:"
            " billing/tests/component/test_payment_reconciler.py)"
        ],
    )
    record(outcome)
    assert outcome.ok, "\n" + table([outcome])


@pytest.mark.parametrize("killed", ["billing", "ledger"])
async def test_payments_with_a_service_killed_mid_flight_never_charge_twice(
    stack: Stack, killed: str
) -> None:
    await _payments_case(stack, killed)
