"""Ledger domain: pure Python model, rules, commands, events and errors."""
