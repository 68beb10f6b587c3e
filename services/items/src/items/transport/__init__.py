"""gRPC transport: servicers that translate protobuf to commands and back."""
