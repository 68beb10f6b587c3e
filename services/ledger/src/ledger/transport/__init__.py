"""gRPC transport: servicers that translate proto <-> commands, and the error map."""
