"""Alembic environment: run programmatically by api.db.migrate() on the connection it is handed."""

from alembic import context

from api.db.models import Base

target_metadata = Base.metadata
connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - the service always hands a connection
    raise RuntimeError("run migrations through api.db.migrate(), which passes the connection")
context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True,
                  compare_type=True)
with context.begin_transaction():
    context.run_migrations()
