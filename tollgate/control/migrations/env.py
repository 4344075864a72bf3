"""Alembic's entry point; the connection comes from ``tollgate.control.migrations.upgrade``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, text

from tollgate.control.database import create_control_engine, write_transaction
from tollgate.control.schema import metadata

# Any constant: serialises concurrent migrations on one PostgreSQL database.
_MIGRATION_LOCK = 7_405_190_001


def _run(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("select pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite cannot ALTER most things; batch mode recreates tables instead.
        render_as_batch=connection.dialect.name == "sqlite",
        transactional_ddl=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:  # `alembic -x url=... upgrade head` from a shell, for people who prefer the tool
    url = context.get_x_argument(as_dictionary=True).get("url")
    if not url:
        raise SystemExit("pass the database URL: alembic -x url=sqlite:///data/control.sqlite ...")
    with write_transaction(create_control_engine(url)) as own_connection:
        _run(own_connection)
