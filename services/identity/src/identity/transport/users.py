"""Servicer of keel.identity.v1.UserService."""

from __future__ import annotations

from keel.identity.v1 import (
    user_service_pb2,
    user_service_pb2_grpc,
)

from identity import contract
from identity.app import commands
from identity.app.handlers import Handlers
from identity.transport.calls import Context
from keel_runtime.caller import current_caller


class UserServicer(user_service_pb2_grpc.UserServiceServicer):  # type: ignore[misc]
    def __init__(self, handlers: Handlers) -> None:
        self._h = handlers

    async def CreateUser(
        self, request: user_service_pb2.CreateUserRequest, context: Context
    ) -> user_service_pb2.CreateUserResponse:
        user = await self._h.create_user(
            commands.CreateUser(
                caller=current_caller(),
                email=request.email,
                initial_password=request.initial_password,
                display_name=request.display_name,
                roles=contract.roles_from_proto(request.roles),
                request_id=request.request_id,
            )
        )
        return user_service_pb2.CreateUserResponse(user=contract.user(user))

    async def GetUser(
        self, request: user_service_pb2.GetUserRequest, context: Context
    ) -> user_service_pb2.GetUserResponse:
        user = await self._h.get_user(
            commands.GetUser(caller=current_caller(), user_id=request.user_id)
        )
        return user_service_pb2.GetUserResponse(user=contract.user(user))

    async def GetCurrentUser(
        self, request: user_service_pb2.GetCurrentUserRequest, context: Context
    ) -> user_service_pb2.GetCurrentUserResponse:
        user = await self._h.get_current_user(commands.GetCurrentUser(caller=current_caller()))
        return user_service_pb2.GetCurrentUserResponse(user=contract.user(user))

    async def ListUsers(
        self, request: user_service_pb2.ListUsersRequest, context: Context
    ) -> user_service_pb2.ListUsersResponse:
        users, token = await self._h.list_users(
            commands.ListUsers(
                caller=current_caller(),
                page_size=request.page_size,
                page_token=request.page_token,
                show_deactivated=request.show_deactivated,
            )
        )
        return user_service_pb2.ListUsersResponse(
            users=[contract.user(u) for u in users], next_page_token=token
        )

    async def UpdateUser(
        self, request: user_service_pb2.UpdateUserRequest, context: Context
    ) -> user_service_pb2.UpdateUserResponse:
        user = await self._h.update_user(
            commands.UpdateUser(
                caller=current_caller(),
                user_id=request.user.user_id,
                fields=frozenset(request.update_mask.paths),
                display_name=request.user.display_name,
                roles=contract.roles_from_proto(request.user.roles),
            )
        )
        return user_service_pb2.UpdateUserResponse(user=contract.user(user))

    async def DeactivateUser(
        self, request: user_service_pb2.DeactivateUserRequest, context: Context
    ) -> user_service_pb2.DeactivateUserResponse:
        user = await self._h.deactivate_user(
            commands.DeactivateUser(caller=current_caller(), user_id=request.user_id)
        )
        return user_service_pb2.DeactivateUserResponse(user=contract.user(user))

    async def ChangePassword(
        self, request: user_service_pb2.ChangePasswordRequest, context: Context
    ) -> user_service_pb2.ChangePasswordResponse:
        await self._h.change_password(
            commands.ChangePassword(
                caller=current_caller(),
                current_password=request.current_password,
                new_password=request.new_password,
            )
        )
        return user_service_pb2.ChangePasswordResponse()
