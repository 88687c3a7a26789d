"""Storage: SQLAlchemy 2 (Core tables, async engine), unit of work, migrations."""
