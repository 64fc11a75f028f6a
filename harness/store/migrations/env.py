"""Alembic environment: migrate the connection the harness hands over, else the ini's URL."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from harness.store.schema import metadata

config = context.config
connection = config.attributes.get("connection")


def _run(conn: sa.Connection) -> None:
    # transactional_ddl: the whole upgrade commits or nothing does, SQLite included
    context.configure(connection=conn, target_metadata=metadata, transactional_ddl=True,
                      render_as_batch=conn.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


if connection is not None:
    _run(connection)
else:  # the alembic command line, from a checkout
    engine = sa.create_engine(config.get_main_option("sqlalchemy.url"))
    with engine.connect() as conn:
        _run(conn)
        conn.commit()
