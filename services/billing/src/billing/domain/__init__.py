"""Billing domain model: pure Python, no I/O and no imports of frameworks."""
