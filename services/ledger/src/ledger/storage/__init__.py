"""Ledger storage: SQLAlchemy Core tables, repositories and the unit of work."""
