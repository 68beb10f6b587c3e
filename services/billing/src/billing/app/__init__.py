"""Application layer: one handler per command or query, over ports the adapters implement."""
