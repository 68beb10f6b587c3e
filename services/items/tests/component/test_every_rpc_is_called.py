"""Every RPC of items' contract is called over the wire by some component test.

A static check of this directory's sources: an RPC added to the contract without a test that
calls it through a real server fails here (only fakes ever running it is how a broken RPC
ships unseen).
"""

from __future__ import annotations

from pathlib import Path

from keel.items.v1 import item_service_pb2, tag_service_pb2

from keel_runtime.testing import rpc_coverage

FILES = (item_service_pb2, tag_service_pb2)


def test_every_rpc_has_a_component_test() -> None:
    methods, uncalled = rpc_coverage(Path(__file__), FILES)
    assert len(methods) >= 11
    assert uncalled == set()
