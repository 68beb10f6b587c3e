"""Unmapped failures are logged with their type, request id and a redacted traceback: never
the statement's bound parameters, nor the values a driver error or exception message quotes."""

from __future__ import annotations

import io
import json
import secrets
import uuid
from typing import Any

import grpc
import psycopg
import pytest
from errors_support import FAST_ARGON2, Identity
from keel.identity.v1 import organization_service_pb2

from identity.adapters.crypto.passwords import Argon2Hasher
from identity.bootstrap import Overrides

# The users table refuses every insert, quoting the row's values in its error (as a unique
# violation's DETAIL does): the failing INSERT's parameters hold the password hash.
REFUSE_USERS = """
CREATE FUNCTION refuse_user() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'refused user % (%)', NEW.display_name, NEW.email
    USING DETAIL = 'hash ' || NEW.password_hash;
END $$;
CREATE TRIGGER refuse_user BEFORE INSERT ON users FOR EACH ROW EXECUTE FUNCTION refuse_user();
"""


def sign_up(display_name: str, password: str) -> Any:
    return organization_service_pb2.CreateOrganizationRequest(
        request_id=str(uuid.uuid4()),
        display_name="Acme",
        owner_email=f"owner-{uuid.uuid4().hex[:8]}@example.com",
        owner_password=password,
        owner_display_name=display_name,
    )


async def call_failing(identity: Identity, request: Any, request_id: str) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await identity.organizations.CreateOrganization(
            request, metadata=(("x-request-id", request_id),), timeout=10
        )
    return caught.value


def error_lines(log: io.StringIO, request_id: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in log.getvalue().splitlines()]
    return [
        line
        for line in lines
        if line["logger"] == "keel.errors" and line.get("request_id") == request_id
    ]


async def test_driver_error_logs_neither_parameters_nor_quoted_values(
    identity: Identity, service_log: io.StringIO, database_url: str
) -> None:
    # The trigger is DDL: the tables' owner installs it, not the runtime role identity uses.
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(REFUSE_USERS)
    secret_name = f"sk_live_{secrets.token_hex(8)}"
    password = f"pw-{secrets.token_hex(8)}"
    request = sign_up(secret_name, password)
    rid = f"rid-{uuid.uuid4().hex}"

    error = await call_failing(identity, request, rid)

    assert error.code() == grpc.StatusCode.INTERNAL
    text = service_log.getvalue()
    for leaked in (secret_name, password, request.owner_email, "$argon2", "parameters:"):
        assert leaked not in text, f"{leaked!r} in the service log"
    [logged] = error_lines(service_log, rid)
    assert logged["level"] == "ERROR"
    assert logged["error_type"] == "sqlalchemy.exc.ProgrammingError"  # what P0001 maps to
    assert logged["sqlstate"] == "P0001"
    assert "INSERT INTO users" in logged["statement"]
    assert "psycopg.errors.RaiseException" in logged["traceback"]


class LeakyHasher(Argon2Hasher):
    """A hasher whose failure quotes the password, as careless code might."""

    async def hash(self, password: str) -> str:
        raise ValueError(f"cannot hash {password!r}")


class TestLeakyMessage:
    @pytest.fixture
    def overrides(self) -> Overrides:
        return Overrides(hasher=LeakyHasher(FAST_ARGON2))

    async def test_exception_message_holding_a_secret_is_not_logged(
        self, identity: Identity, service_log: io.StringIO
    ) -> None:
        password = f"pw-{secrets.token_hex(8)}"
        rid = f"rid-{uuid.uuid4().hex}"

        error = await call_failing(identity, sign_up("Owner", password), rid)

        assert error.code() == grpc.StatusCode.INTERNAL
        assert password not in service_log.getvalue()
        [logged] = error_lines(service_log, rid)
        assert logged["error_type"] == "ValueError"
        assert "ValueError" in logged["traceback"]
