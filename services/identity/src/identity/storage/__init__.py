"""Identity storage: PostgreSQL tables, repositories and the unit of work."""
