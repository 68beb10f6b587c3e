"""Every external method in the contracts is reachable through the gateway."""

from __future__ import annotations

import render
from google.api import annotations_pb2
from google.protobuf import descriptor_pb2


def test_every_service_with_http_rules_is_transcoded_and_routed() -> None:
    descriptors = descriptor_pb2.FileDescriptorSet.FromString(render.DESCRIPTOR_SET.read_bytes())
    external = {
        f"{file.package}.{service.name}"
        for file in descriptors.file
        if file.package.startswith("keel.")
        for service in file.service
        for method in service.method
        if method.options.HasExtension(annotations_pb2.http)
    }
    routed = {name for names in render.SERVICES.values() for name in names}
    assert external, "the descriptor set has no keel service with an http rule"
    assert external - routed == set(), "add these services to gateway/render.py SERVICES"
    assert routed - external == set(), "SERVICES names services without http rules"
