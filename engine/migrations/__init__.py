"""Alembic migrations of the LAKSA schema; `engine.migrate` runs them."""
