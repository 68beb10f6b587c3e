"""Transport: every RPC of the contract is implemented; role mapping; client addresses."""

from __future__ import annotations

from google.protobuf import descriptor_pool
from keel.identity.v1 import resources_pb2

from identity.adapters.clock import SystemClock
from identity.bootstrap import servicers
from identity.contract import role_to_proto, roles_from_proto
from identity.domain.roles import Role
from identity.transport.client_address import ClientAddress, peer_host
from keel_runtime import access


def test_every_rpc_is_implemented(world) -> None:
    implemented = {}
    for _, servicer in servicers(world.handlers, SystemClock()):
        base = type(servicer).__mro__[1]
        service = base.__name__.removesuffix("Servicer")
        implemented[f"keel.identity.v1.{service}"] = type(servicer)

    contract = {
        s.full_name for s in access.keel_services() if s.full_name.startswith("keel.identity.v1.")
    }
    assert set(implemented) == contract
    pool = descriptor_pool.Default()
    for name in contract:
        for method in pool.FindServiceByName(name).methods:
            assert method.name in vars(implemented[name]), f"{name}/{method.name}"


def test_the_contracts_declare_identitys_public_methods() -> None:
    identity = {m for m in access.public_methods() if m.startswith("/keel.identity.v1.")}
    assert identity == {
        "/keel.identity.v1.OrganizationService/CreateOrganization",
        "/keel.identity.v1.AuthService/Login",
        "/keel.identity.v1.AuthService/RefreshToken",
        "/keel.identity.v1.AuthService/GetJwks",
        "/keel.identity.v1.AuthService/ExchangeApiKey",
    }


def test_roles_round_trip_and_unknown_values_are_dropped() -> None:
    values = [role_to_proto(r) for r in Role]
    assert roles_from_proto(values) == frozenset(Role)
    assert roles_from_proto([resources_pb2.ROLE_UNSPECIFIED]) == frozenset()


def test_peer_host_drops_the_port() -> None:
    assert peer_host("ipv4:10.1.2.3:45678") == "10.1.2.3"
    assert peer_host("ipv6:%5B::1%5D:45678") == "::1"
    assert peer_host("unix:/tmp/socket") == "unix:/tmp/socket"


class FakeCall:
    def __init__(self, peer: str, **headers: str) -> None:
        self._peer = peer
        self._headers = tuple((k.replace("_", "-"), v) for k, v in headers.items())

    def peer(self) -> str:
        return self._peer

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return self._headers


def test_forwarded_client_address_counts_only_from_a_trusted_proxy() -> None:
    addresses = ClientAddress(("10.0.0.0/8", "::1"))
    forged = {"x_envoy_external_address": "203.0.113.9", "x_forwarded_for": "203.0.113.8"}

    assert addresses.of(FakeCall("ipv4:10.1.2.3:4000", **forged)) == "203.0.113.9"
    assert addresses.of(FakeCall("ipv6:%5B::1%5D:4000", x_forwarded_for="a, 203.0.113.7")) == (
        "203.0.113.7"
    )
    assert addresses.of(FakeCall("ipv4:192.0.2.1:4000", **forged)) == "192.0.2.1"
    assert addresses.of(FakeCall("unix:/tmp/socket", **forged)) == "unix:/tmp/socket"
