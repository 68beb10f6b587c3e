"""Billing adapters: the ledger gRPC client, webhook sending and the webhook target guard."""
