"""gRPC transport: servicers translate protos to commands and results back; nothing else."""
