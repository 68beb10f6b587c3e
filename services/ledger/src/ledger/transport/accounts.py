"""AccountService servicer: proto -> command -> handler -> proto."""

from __future__ import annotations

from typing import Any

from keel.ledger.v1 import account_service_pb2 as pb
from keel.ledger.v1 import account_service_pb2_grpc

from ledger import contract
from ledger.app.accounts import AccountHandlers
from ledger.transport import mapping


class AccountServicer(account_service_pb2_grpc.AccountServiceServicer):  # type: ignore[misc]
    def __init__(self, handlers: AccountHandlers) -> None:
        self._handlers = handlers

    async def CreateAccount(
        self, request: pb.CreateAccountRequest, context: Any
    ) -> pb.CreateAccountResponse:
        account = await self._handlers.create_account(mapping.create_account(request))
        return pb.CreateAccountResponse(account=contract.account_to_proto(account))

    async def GetAccount(
        self, request: pb.GetAccountRequest, context: Any
    ) -> pb.GetAccountResponse:
        account = await self._handlers.get_account(mapping.get_account(request))
        return pb.GetAccountResponse(account=contract.account_to_proto(account))

    async def ListAccounts(
        self, request: pb.ListAccountsRequest, context: Any
    ) -> pb.ListAccountsResponse:
        page = await self._handlers.list_accounts(mapping.list_accounts(request))
        return pb.ListAccountsResponse(
            accounts=[contract.account_to_proto(a) for a in page.items],
            next_page_token=page.next_page_token,
        )

    async def GetBalance(
        self, request: pb.GetBalanceRequest, context: Any
    ) -> pb.GetBalanceResponse:
        view = await self._handlers.get_balance(mapping.get_balance(request))
        return pb.GetBalanceResponse(
            balance=contract.balance_to_proto(view.account, view.balance, view.as_of)
        )

    async def BatchGetBalances(
        self, request: pb.BatchGetBalancesRequest, context: Any
    ) -> pb.BatchGetBalancesResponse:
        views = await self._handlers.batch_get_balances(mapping.batch_get_balances(request))
        return pb.BatchGetBalancesResponse(
            balances=[contract.balance_to_proto(v.account, v.balance, v.as_of) for v in views]
        )

    async def ListAccountEntries(
        self, request: pb.ListAccountEntriesRequest, context: Any
    ) -> pb.ListAccountEntriesResponse:
        page = await self._handlers.list_entries(mapping.list_account_entries(request))
        return pb.ListAccountEntriesResponse(
            entries=[contract.entry_to_proto(page.account, e) for e in page.items],
            next_page_token=page.next_page_token,
        )
