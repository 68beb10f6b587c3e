"""TransactionService servicer: proto -> command -> handler -> proto."""

from __future__ import annotations

from typing import Any

from keel.ledger.v1 import transaction_service_pb2 as pb
from keel.ledger.v1 import transaction_service_pb2_grpc

from ledger.app.group_commit import GroupCommitter
from ledger.app.queries import QueryHandlers
from ledger.app.transactions import TransactionHandlers
from ledger.contract import transaction_to_proto as to_proto
from ledger.transport import mapping


class TransactionServicer(transaction_service_pb2_grpc.TransactionServiceServicer):  # type: ignore[misc]
    def __init__(
        self,
        handlers: TransactionHandlers,
        queries: QueryHandlers,
        committer: GroupCommitter | None = None,
    ) -> None:
        self._handlers = handlers
        self._queries = queries
        self._create = committer.create if committer is not None else handlers.create

    async def CreateTransaction(
        self, request: pb.CreateTransactionRequest, context: Any
    ) -> pb.CreateTransactionResponse:
        tx = await self._create(mapping.create_transaction(request))
        return pb.CreateTransactionResponse(transaction=to_proto(tx))

    async def CreateTransactionBatch(
        self, request: pb.CreateTransactionBatchRequest, context: Any
    ) -> pb.CreateTransactionBatchResponse:
        done = await self._handlers.create_batch(mapping.create_batch(request))
        return pb.CreateTransactionBatchResponse(transactions=[to_proto(tx) for tx in done])

    async def PostPendingTransaction(
        self, request: pb.PostPendingTransactionRequest, context: Any
    ) -> pb.PostPendingTransactionResponse:
        tx, hold = await self._handlers.post_pending(mapping.post_pending(request))
        return pb.PostPendingTransactionResponse(
            transaction=to_proto(tx), pending_transaction=to_proto(hold)
        )

    async def VoidPendingTransaction(
        self, request: pb.VoidPendingTransactionRequest, context: Any
    ) -> pb.VoidPendingTransactionResponse:
        tx, hold = await self._handlers.void_pending(mapping.void_pending(request))
        return pb.VoidPendingTransactionResponse(
            transaction=to_proto(tx), pending_transaction=to_proto(hold)
        )

    async def ReverseTransaction(
        self, request: pb.ReverseTransactionRequest, context: Any
    ) -> pb.ReverseTransactionResponse:
        tx = await self._handlers.reverse(mapping.reverse(request))
        return pb.ReverseTransactionResponse(transaction=to_proto(tx))

    async def GetTransaction(
        self, request: pb.GetTransactionRequest, context: Any
    ) -> pb.GetTransactionResponse:
        tx = await self._queries.get_transaction(mapping.get_transaction(request))
        return pb.GetTransactionResponse(transaction=to_proto(tx))

    async def ListTransactions(
        self, request: pb.ListTransactionsRequest, context: Any
    ) -> pb.ListTransactionsResponse:
        page = await self._queries.list_transactions(mapping.list_transactions(request))
        return pb.ListTransactionsResponse(
            transactions=[to_proto(tx) for tx in page.items], next_page_token=page.next_page_token
        )
