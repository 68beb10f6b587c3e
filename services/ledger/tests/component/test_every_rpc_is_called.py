"""Every RPC of the ledger's contract is called over the wire by some component test.

A static check of this directory's sources: an RPC added to the contract without a test that
calls it through a real server fails here (GetBalance's as_of_time once broke unseen because
only fakes ever ran it).
"""

from __future__ import annotations

from pathlib import Path

from keel.ledger.v1 import account_service_pb2, ledger_admin_service_pb2, transaction_service_pb2

from keel_runtime.testing import rpc_coverage

FILES = (account_service_pb2, transaction_service_pb2, ledger_admin_service_pb2)


def test_every_rpc_has_a_component_test() -> None:
    methods, uncalled = rpc_coverage(Path(__file__), FILES)
    assert len(methods) >= 14
    assert uncalled == set()
