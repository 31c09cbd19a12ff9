"""Storage: SQLAlchemy 2 Core tables, repositories, the unit of work, Alembic migrations."""
