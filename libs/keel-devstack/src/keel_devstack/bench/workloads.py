"""Client steps the load processes run: each opens what it needs and returns one call.

Every workload is ``async def name(args, slots) -> (step, close)``; ``args`` is plain data
(it crosses a process boundary), ``slots`` the number of concurrent callers in the process.
A gRPC workload given ``certs`` (the stack's MeshCertificates) calls over mutual TLS, as the
workload its principal needs; without them (the bare echo server) in plaintext.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import uuid
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AsyncExitStack
from typing import Any

import grpc
import psycopg
from grpc_health.v1.health_pb2 import HealthCheckRequest, HealthCheckResponse
from keel.billing.v1 import usage_service_pb2, usage_service_pb2_grpc
from keel.identity.v1 import auth_service_pb2, auth_service_pb2_grpc
from keel.ledger.v1 import (
    account_service_pb2,
    account_service_pb2_grpc,
    resources_pb2,
    transaction_service_pb2,
    transaction_service_pb2_grpc,
)

from keel_devstack.bench import http1
from keel_devstack.bench.grpc_server import METHOD
from keel_devstack.routed_channel import RoutedChannel

Args = Mapping[str, Any]
Step = Callable[[], Awaitable[int]]
Opened = tuple[Step, AsyncExitStack]
Workload = Callable[[Args, int], Awaitable[Opened]]

HOT_ACCOUNTS = 10
USAGE_BATCH = 100
USAGE_METRIC = "bench.events"


def _metadata(args: Args) -> tuple[tuple[str, str], ...]:
    """The calls' metadata, without the test marker naming the workload (see grpc_channel)."""
    return tuple(RoutedChannel.route(tuple((k, v) for k, v in args.get("metadata", ())))[1] or ())


async def grpc_channel(stack: AsyncExitStack, args: Args) -> grpc.aio.Channel:
    """A channel to ``args["target"]``, closed with ``stack``: mutual TLS given ``certs``."""
    if args.get("certs") is None:
        return await stack.enter_async_context(grpc.aio.insecure_channel(args["target"]))
    # Every call of a workload has the same principal: the certificate is chosen once and
    # the calls go on a plain secure channel, with no routing per call.
    routed = RoutedChannel(args["target"], args["certs"])
    stack.push_async_callback(routed.close)
    workload, _ = routed.route(tuple((k, v) for k, v in args.get("metadata", ())))
    channel: grpc.aio.Channel = routed.channel(workload)
    return channel


async def echo(args: Args, slots: int) -> Opened:
    """The bare grpc.aio server's one method: what a server costs doing nothing."""
    stack = AsyncExitStack()
    channel = await grpc_channel(stack, args)
    call = channel.unary_unary(
        METHOD,
        request_serializer=HealthCheckRequest.SerializeToString,
        response_deserializer=HealthCheckResponse.FromString,
    )
    request = HealthCheckRequest()

    async def step() -> int:
        await call(request)
        return 1

    return step, stack


async def get_account(args: Args, slots: int) -> Opened:
    stack = AsyncExitStack()
    stub = account_service_pb2_grpc.AccountServiceStub(await grpc_channel(stack, args))
    ids, md = itertools.cycle(args["account_ids"]), _metadata(args)

    async def step() -> int:
        request = account_service_pb2.GetAccountRequest(account_id=next(ids))
        await stub.GetAccount(request, metadata=md)
        return 1

    return step, stack


async def get_account_rest(args: Args, slots: int) -> Opened:
    """GET /v1/accounts/{id} through Envoy, one keep-alive connection per caller."""
    stack = AsyncExitStack()
    headers = {"authorization": f"Bearer {args['access_token']}"}
    idle = asyncio.Queue[http1.Connection]()
    for n in range(slots):
        account = args["account_ids"][n % len(args["account_ids"])]
        url = f"{args['gateway_url']}/v1/accounts/{account}"
        idle.put_nowait(await stack.enter_async_context(http1.connect(url, headers)))

    async def step() -> int:
        conn = await idle.get()
        try:
            await conn.get()
        finally:
            idle.put_nowait(conn)
        return 1

    return step, stack


def _pair(ids: list[str], hot: bool) -> list[str]:
    return random.sample(ids[:HOT_ACCOUNTS] if hot else ids, 2)


async def post_grpc(args: Args, slots: int) -> Opened:
    """CreateTransaction: one posting (debit one account, credit another) per call."""
    stack = AsyncExitStack()
    channel = await grpc_channel(stack, args)
    stub = transaction_service_pb2_grpc.TransactionServiceStub(channel)
    ids, hot, md = list(args["account_ids"]), bool(args["hot"]), _metadata(args)

    async def step() -> int:
        debit, credit = _pair(ids, hot)
        request = transaction_service_pb2.CreateTransactionRequest(
            request_id=uuid.uuid4().hex,
            postings=[
                resources_pb2.Posting(
                    account_id=debit,
                    side=resources_pb2.POSTING_SIDE_DEBIT,
                    amount=1,
                    asset_code="USD",
                ),
                resources_pb2.Posting(
                    account_id=credit,
                    side=resources_pb2.POSTING_SIDE_CREDIT,
                    amount=1,
                    asset_code="USD",
                ),
            ],
        )
        await stub.CreateTransaction(request, metadata=md)
        return 1

    return step, stack


RAW_POSTING = (
    # The least a double-entry posting can do: lock both balances in a stable order (no
    # deadlocks), record the operation and its two entries, move both balances.
    "SELECT account_id FROM raw_balances WHERE account_id = ANY(%(ids)s)"
    " ORDER BY account_id FOR UPDATE",
    "INSERT INTO raw_operations (id, request_id) VALUES (%(op)s, %(request)s)",
    "INSERT INTO raw_entries (operation_id, account_id, amount)"
    " VALUES (%(op)s, %(debit)s, -1), (%(op)s, %(credit)s, 1)",
    "UPDATE raw_balances SET posted = posted + CASE WHEN account_id = %(credit)s"
    " THEN 1 ELSE -1 END WHERE account_id = ANY(%(ids)s)",
)


async def post_raw(args: Args, slots: int) -> Opened:
    """The raw posting transaction in psycopg, one connection per caller."""
    stack = AsyncExitStack()
    idle = asyncio.Queue[psycopg.AsyncConnection[Any]]()
    for _ in range(slots):
        conn = await psycopg.AsyncConnection.connect(args["url"])
        stack.push_async_callback(conn.close)
        idle.put_nowait(conn)
    ids, hot = list(args["account_ids"]), bool(args["hot"])

    async def step() -> int:
        debit, credit = _pair(ids, hot)
        params = {
            "ids": [debit, credit],
            "op": uuid.uuid4(),
            "request": uuid.uuid4().hex,
            "debit": debit,
            "credit": credit,
        }
        conn = await idle.get()
        try:
            async with conn.transaction():
                for statement in RAW_POSTING:
                    await conn.execute(statement, params)
        finally:
            idle.put_nowait(conn)
        return 1

    return step, stack


async def login(args: Args, slots: int) -> Opened:
    stack = AsyncExitStack()
    stub = auth_service_pb2_grpc.AuthServiceStub(await grpc_channel(stack, args))
    request = auth_service_pb2.LoginRequest(email=args["email"], password=args["password"])

    async def step() -> int:
        await stub.Login(request)
        return 1

    return step, stack


async def refresh(args: Args, slots: int) -> Opened:
    """Each caller rotates its own refresh token, as a client keeping a session does."""
    stack = AsyncExitStack()
    stub = auth_service_pb2_grpc.AuthServiceStub(await grpc_channel(stack, args))
    login_request = auth_service_pb2.LoginRequest(email=args["email"], password=args["password"])
    tokens = asyncio.Queue[str]()
    grants = await asyncio.gather(*(stub.Login(login_request) for _ in range(slots)))
    for reply in grants:
        tokens.put_nowait(reply.grant.refresh_token)

    async def step() -> int:
        token = await tokens.get()
        request = auth_service_pb2.RefreshTokenRequest(refresh_token=token)
        tokens.put_nowait((await stub.RefreshToken(request)).grant.refresh_token)
        return 1

    return step, stack


def _usage(key: str) -> usage_service_pb2.UsageInput:
    return usage_service_pb2.UsageInput(metric=USAGE_METRIC, quantity=1, dedup_key=key)


async def usage(args: Args, slots: int) -> Opened:
    """RecordUsage, one event per call; every tenth repeats a key (a retried delivery)."""
    stack = AsyncExitStack()
    stub = usage_service_pb2_grpc.UsageServiceStub(await grpc_channel(stack, args))
    md, seen = _metadata(args), list[str]()

    async def step() -> int:
        key = random.choice(seen) if seen and random.random() < 0.1 else uuid.uuid4().hex
        seen.append(key)
        await stub.RecordUsage(usage_service_pb2.RecordUsageRequest(usage=_usage(key)), metadata=md)
        return 1

    return step, stack


async def usage_batch(args: Args, slots: int) -> Opened:
    """RecordUsageBatch of USAGE_BATCH events; a tenth of each batch repeats earlier keys."""
    stack = AsyncExitStack()
    stub = usage_service_pb2_grpc.UsageServiceStub(await grpc_channel(stack, args))
    md, previous = _metadata(args), list[str]()

    async def step() -> int:
        keys = [uuid.uuid4().hex for _ in range(USAGE_BATCH - USAGE_BATCH // 10)]
        keys += previous[: USAGE_BATCH // 10] or [uuid.uuid4().hex for _ in range(10)]
        previous[:] = keys
        request = usage_service_pb2.RecordUsageBatchRequest(usages=[_usage(k) for k in keys])
        await stub.RecordUsageBatch(request, metadata=md)
        return len(keys)

    return step, stack


async def usage_batch_tenants(args: Args, slots: int) -> Opened:
    """As usage_batch, for several organizations (``args["tenants"]``: each one's metadata):
    a call takes an organization no other call of this process is recording for, as many
    clients of a metering pipeline each send their own organization's events."""
    stack = AsyncExitStack()
    stub = usage_service_pb2_grpc.UsageServiceStub(await grpc_channel(stack, args))
    idle = asyncio.Queue[tuple[tuple[str, str], ...]]()
    for metadata in args["tenants"]:
        idle.put_nowait(_metadata({"metadata": metadata}))

    async def step() -> int:
        md = await idle.get()
        try:
            keys = [uuid.uuid4().hex for _ in range(USAGE_BATCH)]
            request = usage_service_pb2.RecordUsageBatchRequest(usages=[_usage(k) for k in keys])
            await stub.RecordUsageBatch(request, metadata=md)
        finally:
            idle.put_nowait(md)
        return len(keys)

    return step, stack


WORKLOADS: dict[str, Workload] = {
    "echo": echo,
    "get_account": get_account,
    "get_account_rest": get_account_rest,
    "post_grpc": post_grpc,
    "post_raw": post_raw,
    "login": login,
    "refresh": refresh,
    "usage": usage,
    "usage_batch": usage_batch,
    "usage_batch_tenants": usage_batch_tenants,
}
