"""Model-based test: random operation sequences run against a real ledger server (gRPC over
mutual TLS, PostgreSQL) and against a small reference model of the ledger; after every step
the four balances and `available` of every account must agree, and so must every refusal.

The model is written from the README's rules, not from the code: a transaction's entries
move posted or pending amounts; an account bounded DEBITS_MUST_NOT_EXCEED_CREDITS keeps
posted + pending debits within posted credits + its overdraft limit (INSUFFICIENT_FUNDS),
one bounded CREDITS_MUST_NOT_EXCEED_DEBITS keeps posted + pending credits within posted
debits (EXCEEDS_DEBITS), each checked only when that side grows; a hold is posted in full
or (two legs only) in part, the rest released, or voided; a reversal swaps a posted
transaction's sides, once; a batch is all or nothing, applied in order; a request id
replayed returns the first result, replayed with another payload is REQUEST_ID_REUSED,
and a refused request claims nothing. Where the rules do not say which of several reasons a
call is refused for, the model allows each of them.

A seeded random driver keeps it reproducible: the failing seed and its steps are printed,
and `LEDGER_MODEL_SEED=<seed>` replays one sequence.
"""

from __future__ import annotations

import copy
import os
import random
import uuid
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from keel.ledger.v1 import account_service_pb2 as acc
from keel.ledger.v1 import resources_pb2 as res
from keel.ledger.v1 import transaction_service_pb2 as txs
from keel.type.v1 import asset_pb2

from .conftest import Client

SEQUENCES = 16
STEPS = 25
ASSET = "USD"
D, C = "debit", "credit"
SIDE = {D: res.POSTING_SIDE_DEBIT, C: res.POSTING_SIDE_CREDIT}
NONE, DEBITS, CREDITS = "none", "debits", "credits"
BOUND = {
    NONE: res.BALANCE_BOUND_UNSPECIFIED,
    DEBITS: res.BALANCE_BOUND_DEBITS_MUST_NOT_EXCEED_CREDITS,
    CREDITS: res.BALANCE_BOUND_CREDITS_MUST_NOT_EXCEED_DEBITS,
}
NOT_PENDING, NOT_REVERSIBLE = "TRANSACTION_NOT_PENDING", "TRANSACTION_NOT_REVERSIBLE"

Leg = tuple[int, str, int]  # account index, side, amount
Entry = tuple[int, str, str, int]  # account index, side, "posted" | "pending", amount


@dataclass
class ModelAccount:
    bound: str
    overdraft: int = 0
    debits_posted: int = 0
    credits_posted: int = 0
    debits_pending: int = 0
    credits_pending: int = 0
    entries: int = 0

    @property
    def available(self) -> int:
        if self.bound == CREDITS:
            return self.debits_posted - self.credits_posted - self.credits_pending
        return self.credits_posted - self.debits_posted - self.debits_pending

    def as_tuple(self) -> tuple[int, ...]:
        return (
            self.debits_posted,
            self.credits_posted,
            self.debits_pending,
            self.credits_pending,
            self.available,
        )


@dataclass
class ModelTx:
    legs: tuple[Leg, ...]
    kind: str  # "standard", "pending", "post", "void", "reversal"
    state: str = "posted"  # a hold: "pending", then "posted" or "voided"
    reversed: bool = False
    real_id: str = ""


@dataclass
class Model:
    accounts: list[ModelAccount]
    txs: list[ModelTx] = field(default_factory=list)
    # request id -> (payload, transaction index) of each accepted CreateTransaction
    claimed: dict[str, tuple[tuple[Any, ...], int]] = field(default_factory=dict)

    def apply(self, entries: list[Entry]) -> set[str]:
        """Apply the entries, or leave everything unchanged and say why they are refused."""
        after = copy.deepcopy(self.accounts)
        growth: dict[tuple[int, str], int] = {}
        for index, side, bucket, amount in entries:
            name = f"{side}s_{bucket}"
            setattr(after[index], name, getattr(after[index], name) + amount)
            after[index].entries += 1
            growth[index, side] = growth.get((index, side), 0) + amount
        refusals = set()
        for index, account in enumerate(after):
            debits = account.debits_posted + account.debits_pending
            credits = account.credits_posted + account.credits_pending
            if (
                account.bound == DEBITS
                and growth.get((index, D), 0) > 0
                and debits > account.credits_posted + account.overdraft
            ):
                refusals.add("INSUFFICIENT_FUNDS")
            if (
                account.bound == CREDITS
                and growth.get((index, C), 0) > 0
                and credits > account.debits_posted
            ):
                refusals.add("EXCEEDS_DEBITS")
        if not refusals:
            self.accounts = after
        return refusals

    def create(self, legs: tuple[Leg, ...], pending: bool) -> set[str]:
        bucket = "pending" if pending else "posted"
        refusals = self.apply([(i, side, bucket, amount) for i, side, amount in legs])
        if not refusals:
            self.txs.append(ModelTx(legs, "pending" if pending else "standard", bucket))
        return refusals

    def post(self, hold: ModelTx, amount: int) -> set[str]:
        refusals = set()
        if hold.kind != "pending" or hold.state != "pending":
            refusals.add(NOT_PENDING)
        whole = amount == 0 or all(a == amount for _, _, a in hold.legs)
        if not whole and len(hold.legs) != 2:
            refusals.add("PARTIAL_POST_UNSUPPORTED")
        if not whole and len(hold.legs) == 2 and amount > hold.legs[0][2]:
            refusals.add("AMOUNT_EXCEEDS_PENDING")
        if refusals:
            return refusals
        posted = hold.legs if whole else tuple((i, s, amount) for i, s, _ in hold.legs)
        refusals = self.apply(
            [(i, s, "pending", -a) for i, s, a in hold.legs]
            + [(i, s, "posted", a) for i, s, a in posted]
        )
        if not refusals:
            hold.state = "posted"
            self.txs.append(ModelTx(posted, "post"))
        return refusals

    def void(self, hold: ModelTx) -> set[str]:
        if hold.kind != "pending" or hold.state != "pending":
            return {NOT_PENDING}
        refusals = self.apply([(i, s, "pending", -a) for i, s, a in hold.legs])
        if not refusals:
            hold.state = "voided"
            self.txs.append(ModelTx((), "void"))
        return refusals

    def reverse(self, original: ModelTx) -> set[str]:
        if original.kind not in ("standard", "post"):
            return {NOT_REVERSIBLE}
        if original.reversed:
            return {"ALREADY_REVERSED"}
        swapped = tuple((i, C if s == D else D, a) for i, s, a in original.legs)
        refusals = self.apply([(i, s, "posted", a) for i, s, a in swapped])
        if not refusals:
            original.reversed = True
            self.txs.append(ModelTx(swapped, "reversal"))
        return refusals

    def batch(self, requests: list[tuple[Leg, ...]]) -> set[str]:
        """All or nothing, in order: each sees the balances the ones before it left."""
        before = (copy.deepcopy(self.accounts), list(self.txs))
        for legs in requests:
            refusals = self.create(legs, pending=False)
            if refusals:
                self.accounts, self.txs = before
                return refusals
        return set()


def reason(error: grpc.aio.AioRpcError) -> str:
    status = rpc_status.from_call(error)
    assert status is not None, f"no status details: {error.code()} {error.details()}"
    for detail in status.details:
        info = error_details_pb2.ErrorInfo()
        if detail.Unpack(info):
            return str(info.reason)
    raise AssertionError(f"no ErrorInfo: {error.code()} {error.details()}")


async def outcome(call: Awaitable[Any]) -> tuple[Any, str | None]:
    """The response, or the refusal's reason."""
    try:
        return await call, None
    except grpc.aio.AioRpcError as error:
        return None, reason(error)


def check_refusal(expected: set[str], got: str | None) -> None:
    if expected:
        assert got in expected, f"the model refuses with {sorted(expected)}, the ledger {got}"
    else:
        assert got is None, f"the model accepts, the ledger refuses with {got}"


class Run:
    """One sequence: its accounts on the real ledger, the model, and the random choices."""

    def __init__(self, client: Client, rng: random.Random, steps: list[str]) -> None:
        self.client = client
        self.rng = rng
        self.steps = steps
        # A fresh organization per sequence, moved by an internal service (billing), which
        # may open every kind of account with every bound and debit any of them.
        self.md = client.as_(str(uuid.uuid4()), roles=(), kind="service", subject="billing")
        self.ids: list[str] = []
        self.model = Model([])
        self.requests = 0
        self.refused: list[tuple[str, tuple[Leg, ...], bool]] = []

    async def open_accounts(self) -> None:
        rng = self.rng
        shapes = [
            (res.ACCOUNT_KIND_FUNDING, NONE, 0),
            (res.ACCOUNT_KIND_WALLET, DEBITS, 0),
            (res.ACCOUNT_KIND_PAYABLE, DEBITS, rng.choice([0, 50, 200])),
            (res.ACCOUNT_KIND_RECEIVABLE, CREDITS, 0),
            (res.ACCOUNT_KIND_REVENUE, rng.choice([NONE, CREDITS, DEBITS]), 0),
        ]
        for kind, bound, overdraft in shapes:
            response = await self.client.accounts.CreateAccount(
                acc.CreateAccountRequest(
                    request_id=str(uuid.uuid4()),
                    kind=kind,
                    asset=asset_pb2.Asset(code=ASSET, scale=2),
                    balance_bound=BOUND[bound],
                    overdraft_limit=overdraft,
                ),
                metadata=self.md,
            )
            self.ids.append(response.account.account_id)
            self.model.accounts.append(ModelAccount(bound, overdraft))
        self.steps.append(f"accounts {[(a.bound, a.overdraft) for a in self.model.accounts]}")

    def judge(self, expected: set[str], got: str | None) -> None:
        self.steps.append(f"  -> {got or 'accepted'}")
        check_refusal(expected, got)

    def next_request_id(self) -> str:
        self.requests += 1
        return f"model-{self.requests}"

    def random_legs(self, legs: int) -> tuple[Leg, ...]:
        """A balanced transaction: one account debited, one or two others credited; the
        funding account is the source more often, so that money flows."""
        count = len(self.ids)
        source = 0 if self.rng.random() < 0.35 else self.rng.randrange(count)
        targets = self.rng.sample([i for i in range(count) if i != source], legs - 1)
        amounts = [self.rng.randint(1, 300) for _ in targets]
        return (
            (source, D, sum(amounts)),
            *((t, C, a) for t, a in zip(targets, amounts, strict=True)),
        )

    def request(
        self, legs: tuple[Leg, ...], pending: bool, request_id: str
    ) -> txs.CreateTransactionRequest:
        request = txs.CreateTransactionRequest(
            request_id=request_id,
            postings=[
                res.Posting(account_id=self.ids[i], side=SIDE[s], amount=a, asset_code=ASSET)
                for i, s, a in legs
            ],
        )
        if pending:
            request.pending.SetInParent()  # a hold that never lapses
        return request

    async def create(self, legs: tuple[Leg, ...], pending: bool, request_id: str) -> None:
        self.steps.append(f"{'hold' if pending else 'transfer'} {legs} as {request_id}")
        expected = self.model.create(legs, pending)
        response, got = await outcome(
            self.client.transactions.CreateTransaction(
                self.request(legs, pending, request_id), metadata=self.md
            )
        )
        self.judge(expected, got)
        if got is None:
            self.model.txs[-1].real_id = response.transaction.transaction_id
            self.model.claimed[request_id] = ((legs, pending), len(self.model.txs) - 1)
        else:
            self.refused.append((request_id, legs, pending))

    async def replay(self) -> None:
        """An accepted request again: the first result; changed: REQUEST_ID_REUSED."""
        request_id = self.rng.choice(sorted(self.model.claimed))
        (legs, pending), index = self.model.claimed[request_id]
        changed = self.rng.random() < 0.5
        if changed:
            (i, s, a), *rest = legs
            legs = ((i, s, a + 1), *rest[:-1], (rest[-1][0], rest[-1][1], rest[-1][2] + 1))
        self.steps.append(f"replay {request_id}{' changed' if changed else ''}")
        response, got = await outcome(
            self.client.transactions.CreateTransaction(
                self.request(legs, pending, request_id), metadata=self.md
            )
        )
        self.judge({"REQUEST_ID_REUSED"} if changed else set(), got)
        if got is None:
            assert response.transaction.transaction_id == self.model.txs[index].real_id

    async def retry_refused(self) -> None:
        """A refused request claimed nothing: sent again, it is judged anew."""
        request_id, legs, pending = self.refused.pop(self.rng.randrange(len(self.refused)))
        await self.create(legs, pending, request_id)

    def pick(self, kinds: tuple[str, ...], open_first: bool) -> ModelTx | None:
        candidates = [t for t in self.model.txs if t.kind in kinds]
        if open_first and self.rng.random() < 0.8:
            candidates = [t for t in candidates if t.state == "pending"] or candidates
        if not open_first and self.rng.random() < 0.8:
            candidates = [t for t in candidates if not t.reversed] or candidates
        return self.rng.choice(candidates) if candidates else None

    async def post(self) -> None:
        hold = self.pick(("pending",), open_first=True) or self.pick(("standard",), True)
        if hold is None:
            return
        held = hold.legs[-1][2]
        amount = self.rng.choice([0, 0, held, self.rng.randint(1, held), held + 1])
        self.steps.append(f"post {amount} of {hold.legs} ({hold.kind}, {hold.state})")
        expected = self.model.post(hold, amount)
        request = txs.PostPendingTransactionRequest(
            transaction_id=hold.real_id, request_id=self.next_request_id(), amount=amount
        )
        response, got = await outcome(
            self.client.transactions.PostPendingTransaction(request, metadata=self.md)
        )
        self.judge(expected, got)
        if got is None:
            self.model.txs[-1].real_id = response.transaction.transaction_id

    async def void(self) -> None:
        hold = self.pick(("pending",), open_first=True)
        if hold is None:
            return
        self.steps.append(f"void {hold.legs} ({hold.state})")
        expected = self.model.void(hold)
        request = txs.VoidPendingTransactionRequest(
            transaction_id=hold.real_id, request_id=self.next_request_id()
        )
        response, got = await outcome(
            self.client.transactions.VoidPendingTransaction(request, metadata=self.md)
        )
        self.judge(expected, got)
        if got is None:
            self.model.txs[-1].real_id = response.transaction.transaction_id

    async def reverse(self) -> None:
        kinds = ("standard", "post") if self.rng.random() < 0.8 else ("pending", "reversal")
        original = self.pick(kinds, open_first=False)
        if original is None:
            return
        self.steps.append(f"reverse {original.legs} ({original.kind}, {original.reversed})")
        expected = self.model.reverse(original)
        request = txs.ReverseTransactionRequest(
            transaction_id=original.real_id, request_id=self.next_request_id()
        )
        response, got = await outcome(
            self.client.transactions.ReverseTransaction(request, metadata=self.md)
        )
        self.judge(expected, got)
        if got is None:
            self.model.txs[-1].real_id = response.transaction.transaction_id

    async def batch(self) -> None:
        requests = [self.random_legs(2) for _ in range(self.rng.randint(2, 3))]
        ids = [self.next_request_id() for _ in requests]
        self.steps.append(f"batch {requests}")
        expected = self.model.batch(requests)
        response, got = await outcome(
            self.client.transactions.CreateTransactionBatch(
                txs.CreateTransactionBatchRequest(
                    requests=[
                        self.request(legs, False, rid)
                        for legs, rid in zip(requests, ids, strict=True)
                    ]
                ),
                metadata=self.md,
            )
        )
        self.judge(expected, got)
        if got is None:
            first = len(self.model.txs) - len(requests)
            for k, (real, legs, rid) in enumerate(
                zip(response.transactions, requests, ids, strict=True)
            ):
                self.model.txs[first + k].real_id = real.transaction_id
                self.model.claimed[rid] = ((legs, False), first + k)

    async def step(self) -> None:
        op = self.rng.choices(
            ["transfer", "split", "hold", "post", "void", "reverse", "batch", "replay", "retry"],
            weights=[26, 8, 16, 16, 8, 10, 6, 5, 5],
        )[0]
        if op == "replay" and self.model.claimed:
            await self.replay()
        elif op == "retry" and self.refused:
            await self.retry_refused()
        elif op == "post":
            await self.post()
        elif op == "void":
            await self.void()
        elif op == "reverse":
            await self.reverse()
        elif op == "batch":
            await self.batch()
        else:
            legs = self.random_legs(3 if op == "split" or self.rng.random() < 0.15 else 2)
            await self.create(legs, op == "hold", self.next_request_id())

    async def check_balances(self) -> None:
        read = await self.client.accounts.BatchGetBalances(
            acc.BatchGetBalancesRequest(account_ids=self.ids), metadata=self.md
        )
        actual = [
            (b.debits_posted, b.credits_posted, b.debits_pending, b.credits_pending, b.available)
            for b in read.balances
        ]
        assert actual == [a.as_tuple() for a in self.model.accounts], "balances disagree"
        # Double entry: whatever happened, debits and credits match across the accounts.
        assert sum(b[0] for b in actual) == sum(b[1] for b in actual)
        assert sum(b[2] for b in actual) == sum(b[3] for b in actual)

    async def check_history(self) -> None:
        """At the end: each account's entry history ends on its balance, and every hold's
        and transaction's state is the model's."""
        for account_id, account in zip(self.ids, self.model.accounts, strict=True):
            entries = (
                await self.client.accounts.ListAccountEntries(
                    acc.ListAccountEntriesRequest(account_id=account_id, page_size=500),
                    metadata=self.md,
                )
            ).entries
            assert len(entries) == account.entries, "entry counts disagree"
            if entries:
                last = entries[-1].balance
                assert (last.debits_posted, last.credits_posted) == (
                    account.debits_posted,
                    account.credits_posted,
                )
                assert (last.debits_pending, last.credits_pending) == (
                    account.debits_pending,
                    account.credits_pending,
                )
        states = {"pending": res.TRANSACTION_STATE_PENDING, "voided": res.TRANSACTION_STATE_VOIDED}
        for tx in self.model.txs:
            got = (
                await self.client.transactions.GetTransaction(
                    txs.GetTransactionRequest(transaction_id=tx.real_id), metadata=self.md
                )
            ).transaction
            assert got.state == states.get(tx.state, res.TRANSACTION_STATE_POSTED)
            assert bool(got.resolved_by_transaction_id) == (
                tx.reversed or (tx.kind == "pending" and tx.state != "pending")
            )


async def run_sequence(client: Client, seed: int) -> None:
    steps: list[str] = []
    try:
        run = Run(client, random.Random(seed), steps)
        await run.open_accounts()
        for _ in range(STEPS):
            await run.step()
            await run.check_balances()
        await run.check_history()
    except AssertionError as exc:
        listing = "\n  ".join(steps)
        raise AssertionError(
            f"seed {seed} (LEDGER_MODEL_SEED={seed}) failed after:\n  {listing}\n{exc}"
        ) from exc


async def test_the_ledger_follows_the_reference_model(client: Client) -> None:
    only = os.environ.get("LEDGER_MODEL_SEED")
    for seed in [int(only)] if only else range(SEQUENCES):
        await run_sequence(client, seed)
