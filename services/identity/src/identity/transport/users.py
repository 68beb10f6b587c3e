"""Servicer of keel.identity.v1.UserService."""

from __future__ import annotations

from keel.identity.v1 import (
    user_service_pb2,
    user_service_pb2_grpc,
)

from identity import contract
from identity.app.handlers import Handlers
from identity.transport import mapping
from identity.transport.calls import Context
from keel_runtime.caller import current_caller


class UserServicer(user_service_pb2_grpc.UserServiceServicer):  # type: ignore[misc]
    def __init__(self, handlers: Handlers) -> None:
        self._h = handlers

    async def CreateUser(
        self, request: user_service_pb2.CreateUserRequest, context: Context
    ) -> user_service_pb2.CreateUserResponse:
        user = await self._h.users.create(mapping.create_user(request, current_caller()))
        return user_service_pb2.CreateUserResponse(user=contract.user(user))

    async def GetUser(
        self, request: user_service_pb2.GetUserRequest, context: Context
    ) -> user_service_pb2.GetUserResponse:
        user = await self._h.users.get(mapping.get_user(request, current_caller()))
        return user_service_pb2.GetUserResponse(user=contract.user(user))

    async def GetCurrentUser(
        self, request: user_service_pb2.GetCurrentUserRequest, context: Context
    ) -> user_service_pb2.GetCurrentUserResponse:
        user = await self._h.users.get_current(mapping.get_current_user(request, current_caller()))
        return user_service_pb2.GetCurrentUserResponse(user=contract.user(user))

    async def ListUsers(
        self, request: user_service_pb2.ListUsersRequest, context: Context
    ) -> user_service_pb2.ListUsersResponse:
        users, token = await self._h.users.list(mapping.list_users(request, current_caller()))
        return user_service_pb2.ListUsersResponse(
            users=[contract.user(u) for u in users], next_page_token=token
        )

    async def UpdateUser(
        self, request: user_service_pb2.UpdateUserRequest, context: Context
    ) -> user_service_pb2.UpdateUserResponse:
        user = await self._h.users.update(mapping.update_user(request, current_caller()))
        return user_service_pb2.UpdateUserResponse(user=contract.user(user))

    async def DeactivateUser(
        self, request: user_service_pb2.DeactivateUserRequest, context: Context
    ) -> user_service_pb2.DeactivateUserResponse:
        user = await self._h.users.deactivate(mapping.deactivate_user(request, current_caller()))
        return user_service_pb2.DeactivateUserResponse(user=contract.user(user))

    async def ChangePassword(
        self, request: user_service_pb2.ChangePasswordRequest, context: Context
    ) -> user_service_pb2.ChangePasswordResponse:
        await self._h.users.change_password(mapping.change_password(request, current_caller()))
        return user_service_pb2.ChangePasswordResponse()
