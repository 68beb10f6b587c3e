"""gRPC transport: servicers translate protos to handler calls and back, nothing else."""
