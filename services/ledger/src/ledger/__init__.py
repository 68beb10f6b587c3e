"""Keel ledger service: double-entry accounts, balanced transactions, holds and reversals."""
