"""Alembic environment: migrations run on the connection handed over by omnihook.storage.migrate."""

from __future__ import annotations

from alembic import context

from omnihook.storage.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `omnihook migrate`, which passes the connection")

context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
