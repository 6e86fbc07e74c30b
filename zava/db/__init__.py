"""Database access: engine and pool, declarative models, unit of work, embedded PostgreSQL."""
