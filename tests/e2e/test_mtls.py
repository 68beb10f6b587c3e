"""Every service port, tried as an attacker on the same host would: plaintext, a certificate
of another CA, a genuine certificate with a forged or misplaced token. Each is refused; the
gateway's and billing's own certificates still work."""

from __future__ import annotations

import tempfile
from pathlib import Path

import grpc
import httpx
import pytest
from e2e_support import (
    Tenant,
    gateway_channel,
    protected_call,
    request_id,
    service_metadata,
    workload_channel,
)
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from keel_devstack.certs import issue
from keel_devstack.stack import Endpoints
from keel_runtime.testing import TokenIssuer

pytestmark = pytest.mark.e2e

SERVICES = ["identity", "ledger", "items", "billing"]


def _reason(error: grpc.RpcError) -> str:
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None, error
    info = error_details_pb2.ErrorInfo()
    assert any(d.Unpack(info) for d in status.details), status
    return str(info.reason)


def _refused(channel: grpc.Channel, service: str, metadata: list[tuple[str, str]]) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        protected_call(channel, service)(metadata=[*metadata, ("x-request-id", request_id())])
    return caught.value


@pytest.mark.parametrize("service", SERVICES)
def test_plaintext_client_is_refused(mesh: Endpoints, tenant: Tenant, service: str) -> None:
    with grpc.insecure_channel(mesh.services[service]) as channel:
        error = _refused(channel, service, tenant.token_metadata())
    assert error.code() == grpc.StatusCode.UNAVAILABLE, error  # type: ignore[attr-defined]


@pytest.mark.parametrize("service", SERVICES)
def test_certificate_from_another_ca_is_refused(
    mesh: Endpoints, tenant: Tenant, service: str
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        foreign = issue(Path(tmp) / "tls", ["gateway"], ca_name="Not Keel")["gateway"]
        credentials = grpc.ssl_channel_credentials(
            Path(mesh.tls["ca_file"]).read_bytes(),  # trusts the server: only the client lies
            foreign.key_file.read_bytes(),
            foreign.cert_file.read_bytes(),
        )
        with grpc.secure_channel(mesh.services[service], credentials) as channel:
            error = _refused(channel, service, tenant.token_metadata())
    assert error.code() == grpc.StatusCode.UNAVAILABLE, error  # type: ignore[attr-defined]


@pytest.mark.parametrize("service", SERVICES)
def test_a_genuine_certificate_is_no_user(mesh: Endpoints, tenant: Tenant, service: str) -> None:
    # The operator's certificate is genuine, yet it never carries a user's token.
    with workload_channel(mesh, service, "operator") as channel:
        error = _refused(channel, service, tenant.token_metadata())
        assert error.code() == grpc.StatusCode.UNAUTHENTICATED  # type: ignore[attr-defined]
        assert _reason(error) == "TOKEN_FROM_UNTRUSTED_PEER"
    with gateway_channel(mesh, service) as channel:
        # The tenant's own claims, signed with a key identity never published.
        forged = TokenIssuer().sign(tenant.claims())
        error = _refused(channel, service, [("authorization", f"Bearer {forged}")])
        assert error.code() == grpc.StatusCode.UNAUTHENTICATED  # type: ignore[attr-defined]
        assert _reason(error) == "TOKEN_INVALID"
        # Naming an organization makes nobody a member of it.
        error = _refused(channel, service, service_metadata(tenant.org_id))
        assert error.code() == grpc.StatusCode.UNAUTHENTICATED  # type: ignore[attr-defined]
        assert _reason(error) == "PRINCIPAL_REQUIRED"


def test_refusals_are_counted(mesh: Endpoints, tenant: Tenant) -> None:
    with workload_channel(mesh, "ledger", "operator") as channel:
        _refused(channel, "ledger", tenant.token_metadata())
    scrape = httpx.get(f"http://{mesh.metrics['ledger']}/metrics", timeout=5).text
    series = 'keel_principal_refused_total{peer="operator",reason="TOKEN_FROM_UNTRUSTED_PEER"'
    assert f'{series},service="ledger"}}' in scrape, scrape


def test_billing_certificate_is_the_service_principal(mesh: Endpoints, tenant: Tenant) -> None:
    with workload_channel(mesh, "ledger", "billing") as channel:
        call = protected_call(channel, "ledger")
        answer = call(metadata=service_metadata(tenant.org_id))
    assert answer is not None
