"""Alembic's environment, run programmatically (selfcare.appdb.migrate): the connection comes in
through `config.attributes`. Batch mode so ALTERs work on SQLite (copy-and-move)."""

from alembic import context

from selfcare.appdb.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `selfcare db upgrade` (selfcare.appdb.migrate)")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=True,
)
with context.begin_transaction():
    context.run_migrations()
