"""Storage shape: ORM models, engine and unit of work, Alembic migrations."""
