"""The relational stores (catalog, jobs, conversations) on SQLAlchemy: SQLite by default, PostgreSQL by URL."""
