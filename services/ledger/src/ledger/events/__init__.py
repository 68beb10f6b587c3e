"""Ledger events: codec to envelopes, and subscribers to other services' events."""
