"""Transport: every RPC of the contract is implemented; role mapping; client addresses."""

from __future__ import annotations

from google.protobuf import descriptor_pool
from keel.identity.v1 import resources_pb2

from identity.bootstrap import PUBLIC_METHODS, SERVICE_NAMES, servicers
from identity.clock import SystemClock
from identity.domain.roles import Role
from identity.transport import mapping
from identity.transport.calls import peer_host


def test_every_rpc_is_implemented(world) -> None:
    implemented = {}
    for _, servicer in servicers(world.handlers, SystemClock()):
        base = type(servicer).__mro__[1]
        service = base.__name__.removesuffix("Servicer")
        implemented[f"keel.identity.v1.{service}"] = type(servicer)

    assert set(implemented) == set(SERVICE_NAMES)
    pool = descriptor_pool.Default()
    for name in SERVICE_NAMES:
        for method in pool.FindServiceByName(name).methods:
            assert method.name in vars(implemented[name]), f"{name}/{method.name}"


def test_public_methods_exist() -> None:
    pool = descriptor_pool.Default()
    for full in PUBLIC_METHODS:
        service, method = full.strip("/").split("/")
        assert pool.FindServiceByName(service).FindMethodByName(method) is not None


def test_roles_round_trip_and_unknown_values_are_dropped() -> None:
    values = [mapping.role_to_proto(r) for r in Role]
    assert mapping.roles_from_proto(values) == frozenset(Role)
    assert mapping.roles_from_proto([resources_pb2.ROLE_UNSPECIFIED]) == frozenset()


def test_peer_host_drops_the_port() -> None:
    assert peer_host("ipv4:10.1.2.3:45678") == "10.1.2.3"
    assert peer_host("ipv6:%5B::1%5D:45678") == "::1"
    assert peer_host("unix:/tmp/socket") == "unix:/tmp/socket"
