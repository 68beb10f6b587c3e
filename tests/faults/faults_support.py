"""The fault suite's instruments: a bounded load, what each case measured, and the report.

Every case answers the same questions: how many writes were acknowledged, how many are
present, how many effects their events should have had, how many were delivered, how many
were lost, how many copies of one event the stream holds (duplicates the inboxes absorb)
and how many effects happened twice (a double effect). A case fails on any loss or double
effect; duplicates are reported, not failed on.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import grpc
import psycopg
from grpc_health.v1 import health_pb2, health_pb2_grpc
from keel.identity.v1 import organization_service_pb2, organization_service_pb2_grpc
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from keel_devstack.stack import Stack
from keel_runtime.events import EnvelopeError, decode

PASSWORD = "correct horse battery staple"
ORGANIZATION_CREATED = "identity.organization.created"
CONVERGE_SECONDS = 150.0
"""How long a case waits for every effect once the fault is over (crash redelivery, a
restarted server, the relay's backoff and the consumers' transient retries add up)."""

COLUMNS = (
    "case",
    "acknowledged",
    "present",
    "expected",
    "delivered",
    "lost",
    "duplicated",
    "double_effects",
)


@dataclass
class Outcome:
    case: str
    acknowledged: int = 0
    """Writes the client got a success for."""
    present: int = 0
    """Of those, how many the database holds (plus committed ones whose answer was lost)."""
    expected: int = 0
    """Effects the present writes' events must have had downstream."""
    delivered: int = 0
    """Effects found."""
    lost: int = 0
    """Acknowledged writes missing, plus effects missing."""
    duplicated: int = 0
    """Extra copies of one event in the stream (absorbed by the consumers' inboxes)."""
    double_effects: int = 0
    """Effects applied more than once (a second wallet, a second charge ...)."""
    phantom_events: int = 0
    """Events in the stream for a write that is not in the database (must be 0)."""
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (
            self.lost == 0
            and self.double_effects == 0
            and self.phantom_events == 0
            and self.delivered == self.expected
        )


RESULTS: list[Outcome] = []


def record(outcome: Outcome) -> Outcome:
    RESULTS.append(outcome)
    return outcome


def table(outcomes: list[Outcome]) -> str:
    rows = [[*COLUMNS, "s", "notes"]]
    for o in outcomes:
        rows.append(
            [str(getattr(o, c)) for c in COLUMNS] + [f"{o.seconds:.0f}", "; ".join(o.notes)]
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def write_report(path: Path, outcomes: list[Outcome]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "written_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "cases": [asdict(o) | {"ok": o.ok} for o in outcomes],
    }
    path.write_text(json.dumps(data, indent=2) + "\n")


# -- load -----------------------------------------------------------------------------------


def sign_up_body(tag: str) -> dict[str, str]:
    return {
        "requestId": str(uuid.uuid4()),
        "displayName": tag,
        "ownerEmail": f"{tag}-{uuid.uuid4().hex[:12]}@faults.keel.test",
        "ownerDisplayName": "Fault Owner",
        "ownerPassword": PASSWORD,
    }


@dataclass
class SignUpLoad:
    """Sign-ups sent to identity over gRPC: ``workers`` clients, at most ``count`` sign-ups
    and ``seconds`` of new ones. Straight to the service, not through the gateway, whose
    sign-up rate limit (60 a minute per gateway) would make it no load at all. A client
    retries one sign-up (same request id) until answered, as a real client would; a sign-up
    counts as acknowledged once it got an answer with the organization."""

    identity: str
    """gRPC target of identity."""
    credentials: grpc.ChannelCredentials
    """The mesh requires mutual TLS: a workload certificate (sign-up is public: any will do)."""
    tag: str
    count: int = 120
    seconds: float = 15.0
    workers: int = 6
    acknowledged: set[str] = field(default_factory=set)
    attempts: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    _started: int = 0

    async def run(self) -> None:
        deadline = time.monotonic() + self.seconds
        async with grpc.aio.secure_channel(self.identity, self.credentials) as channel:
            stub = organization_service_pb2_grpc.OrganizationServiceStub(channel)
            await asyncio.gather(*(self._worker(stub, deadline) for _ in range(self.workers)))

    async def _worker(self, stub: Any, deadline: float) -> None:
        while self._started < self.count and time.monotonic() < deadline:
            self._started += 1
            body = sign_up_body(self.tag)
            request = organization_service_pb2.CreateOrganizationRequest(
                request_id=body["requestId"],
                display_name=body["displayName"],
                owner_email=body["ownerEmail"],
                owner_display_name=body["ownerDisplayName"],
                owner_password=body["ownerPassword"],
            )
            await self._sign_up(stub, request, deadline + 60)

    async def _sign_up(self, stub: Any, request: Any, give_up: float) -> None:
        while time.monotonic() < give_up:
            self.attempts += 1
            try:
                reply = await stub.CreateOrganization(request, timeout=10)
            except grpc.aio.AioRpcError as exc:
                self.errors[exc.code().name] += 1
            else:
                self.acknowledged.add(reply.organization.organization_id)
                return
            await asyncio.sleep(0.25)

    async def until_acknowledged(self, n: int, within: float = 60.0) -> None:
        """Wait until ``n`` sign-ups are acknowledged: the fault then hits a load in flight."""
        await until(lambda: len(self.acknowledged) >= n, within=within)


async def until(condition: Callable[[], bool], *, within: float, pause: float = 0.05) -> None:
    """Wait until ``condition()`` holds; TimeoutError after ``within`` seconds."""
    async with asyncio.timeout(within):
        while True:
            if condition():
                return
            await asyncio.sleep(pause)


# -- measures -------------------------------------------------------------------------------


def _rows(url: str, query: str, *args: object) -> list[tuple[object, ...]]:
    with psycopg.connect(url, connect_timeout=5) as conn:
        return list(conn.execute(query, args).fetchall())


@dataclass
class SignUpEffects:
    """What sign-ups of one case left behind: organizations, wallets, subscriptions."""

    present: set[str]
    wallets: dict[str, int]
    subscriptions: dict[str, int]


def sign_up_effects(databases: dict[str, str], tag: str) -> SignUpEffects:
    present = {
        str(r[0])
        for r in _rows(
            databases["identity"], "SELECT id FROM organizations WHERE display_name = %s", tag
        )
    }
    ids = sorted(present)
    wallets = {
        str(org): int(n)  # type: ignore[call-overload]
        for org, n in _rows(
            databases["ledger"],
            "SELECT org_id, count(*) FROM accounts WHERE kind = 'WALLET' AND org_id::text = ANY(%s)"
            " GROUP BY org_id",
            ids,
        )
    }
    subscriptions = {
        str(org): int(n)  # type: ignore[call-overload]
        for org, n in _rows(
            databases["billing"],
            "SELECT org_id, count(*) FROM subscriptions WHERE org_id = ANY(%s) GROUP BY org_id",
            ids,
        )
    }
    return SignUpEffects(present, wallets, subscriptions)


async def stream_copies(
    js: JetStreamContext, stream: str, after_seq: int, subject: str | None = None
) -> tuple[int, set[str]]:
    """Extra copies of one message id after ``after_seq``, and the org ids of ``subject``."""
    try:
        info = await js.stream_info(stream)
    except NotFoundError:
        return 0, set()
    ids: Counter[str] = Counter()
    orgs: set[str] = set()
    for seq in range(max(after_seq + 1, info.state.first_seq), info.state.last_seq + 1):
        try:
            msg = await js.get_msg(stream, seq)
        except NotFoundError:
            continue
        ids[(msg.headers or {}).get("Nats-Msg-Id", f"seq-{seq}")] += 1
        if subject is not None and msg.subject == subject:
            with contextlib.suppress(EnvelopeError):
                orgs.add(decode(msg.data or b"").org_id)
    return sum(n - 1 for n in ids.values() if n > 1), orgs


async def last_seq(js: JetStreamContext, stream: str) -> int:
    try:
        return int((await js.stream_info(stream)).state.last_seq)
    except NotFoundError:
        return 0


async def converge(
    measure: Callable[[], Awaitable[Outcome]], within: float = CONVERGE_SECONDS
) -> Outcome:
    """Measure until every expected effect is there (or ``within`` runs out): the last one."""
    deadline = time.monotonic() + within
    while True:
        try:
            outcome = await measure()
        except Exception as exc:  # a server still restarting: measure again
            if time.monotonic() >= deadline:
                raise
            outcome = None
            note = repr(exc)
        if outcome is not None and (outcome.ok or time.monotonic() >= deadline):
            return outcome
        if outcome is None and time.monotonic() >= deadline:
            raise AssertionError(f"could not measure: {note}")
        await asyncio.sleep(0.5)


def sign_up_outcome(
    case: str, load: SignUpLoad, effects: SignUpEffects, duplicated: int, phantoms: set[str]
) -> Outcome:
    present = effects.present
    missing_acked = load.acknowledged - present
    expected = 2 * len(present)
    delivered = len([o for o in present if effects.wallets.get(o)]) + len(
        [o for o in present if effects.subscriptions.get(o)]
    )
    double = sum(n - 1 for n in effects.wallets.values() if n > 1) + sum(
        n - 1 for n in effects.subscriptions.values() if n > 1
    )
    notes = []
    if phantoms:
        notes.append(f"{len(phantoms)} events for organizations that do not exist")
    if present - load.acknowledged:
        notes.append(f"{len(present - load.acknowledged)} committed, answer lost")
    if load.errors:
        notes.append("client saw " + ",".join(f"{k}x{v}" for k, v in sorted(load.errors.items())))
    return Outcome(
        case=case,
        acknowledged=len(load.acknowledged),
        present=len(load.acknowledged & present),
        expected=expected,
        delivered=delivered,
        lost=len(missing_acked) + (expected - delivered),
        phantom_events=len(phantoms),
        duplicated=duplicated,
        double_effects=double,
        notes=notes,
    )


def workload_credentials(stack: Stack, workload: str) -> grpc.ChannelCredentials:
    """Channel credentials presenting ``workload``'s certificate of the stack's mesh CA."""
    assert stack.endpoints is not None
    tls_dir = Path(stack.endpoints.tls["dir"])
    return grpc.ssl_channel_credentials(
        (tls_dir / "ca.pem").read_bytes(),
        (tls_dir / f"{workload}-key.pem").read_bytes(),
        (tls_dir / f"{workload}.pem").read_bytes(),
    )


def _serving(target: str, credentials: grpc.ChannelCredentials) -> bool:
    with grpc.secure_channel(target, credentials) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=""), timeout=1.0
            )
        except grpc.RpcError:
            return False
    return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


async def all_serving(stack: Stack, within: float = 120.0) -> None:
    """Every service back to SERVING (restarted by the supervisor if the fault killed it)."""
    assert stack.endpoints is not None
    operator = workload_credentials(stack, "operator")
    async with asyncio.timeout(within):
        for target in stack.endpoints.services.values():
            while True:
                if await asyncio.to_thread(_serving, target, operator):
                    break
                await asyncio.sleep(0.2)
