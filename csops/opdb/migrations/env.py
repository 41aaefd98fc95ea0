"""Alembic environment: runs on the connection `csops.opdb.upgrade` passes in, or on `sqlalchemy.url`."""

from alembic import context
from sqlalchemy import create_engine

from csops.opdb.models import metadata

config = context.config


def run(connection) -> None:
    # batch mode: SQLite alters tables by copying them; render_as_batch keeps one migration for every backend
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    run(connection)
else:
    with create_engine(config.get_main_option("sqlalchemy.url")).connect() as fresh:
        run(fresh)
        fresh.commit()
