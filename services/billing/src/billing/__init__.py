"""Keel billing service: plans, subscriptions, usage, invoices and payment through the ledger."""
