"""Ledger application layer: one handler per command or query, over ports."""
