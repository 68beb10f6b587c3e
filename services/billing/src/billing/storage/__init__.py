"""PostgreSQL adapters: tables, repositories and the unit of work (SQLAlchemy Core)."""
