"""Identity events: codec from domain events to protobuf envelopes."""
