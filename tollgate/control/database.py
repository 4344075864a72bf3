"""Opening the control database, and the two kinds of transaction everything else uses.

SQLite (the default) runs in WAL mode so readers never block the writer and the writer never
blocks readers; writers take the write lock when they begin (``BEGIN IMMEDIATE``) so two writers
queue on the busy timeout instead of failing midway. PostgreSQL is reached with psycopg 3.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url

from tollgate.control.errors import ControlError

# Seconds a SQLite writer waits for another writer before giving up.
SQLITE_BUSY_TIMEOUT_MS = 10_000

_READ_ONLY = "tollgate_read_only"


def normalize_url(url: str) -> URL:
    """Accepts ``postgresql://`` and ``postgres://`` as psycopg 3 URLs, as operators write them."""
    try:
        parsed = make_url(url)
    except Exception as error:  # sqlalchemy raises ArgumentError; any parse failure is the same
        raise ControlError(
            f"'{url}' is not a database URL; use sqlite:///path/control.sqlite or "
            "postgresql+psycopg://user:password@host:5432/dbname"
        ) from error
    if parsed.drivername in {"postgresql", "postgres"}:
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() not in {"sqlite", "postgresql"}:
        raise ControlError(
            f"unsupported control database '{parsed.drivername}': use sqlite:/// or "
            "postgresql+psycopg://"
        )
    return parsed


def sqlite_path(engine: Engine) -> Path | None:
    """The database file of a SQLite engine (None for PostgreSQL or in-memory SQLite)."""
    if engine.dialect.name != "sqlite" or not engine.url.database:
        return None
    database = engine.url.database
    return None if database == ":memory:" else Path(database)


def create_control_engine(url: str) -> Engine:
    """An engine for ``url``, without running migrations (see ``open_control_database``)."""
    parsed = normalize_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed)
    return create_engine(parsed, pool_pre_ping=True)


def open_control_database(url: str) -> Engine:
    """An engine for ``url`` whose schema is at the newest migration (applied if needed)."""
    from tollgate.control.migrations import upgrade

    engine = create_control_engine(url)
    upgrade(engine)
    return engine


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """One read-write transaction: committed when the block ends, rolled back on an exception."""
    with engine.begin() as connection:
        yield connection


@contextmanager
def read_transaction(engine: Engine) -> Iterator[Connection]:
    """One read-only transaction in which every query sees the same committed state.

    SQLite in WAL mode: a deferred transaction reads from one snapshot from its first query on.
    PostgreSQL: REPEATABLE READ READ ONLY, whose snapshot is taken at the first query.
    """
    options: dict[str, Any] = {_READ_ONLY: True}
    if engine.dialect.name == "postgresql":
        options |= {"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
    with engine.connect().execution_options(**options) as connection, connection.begin():
        yield connection


def _sqlite_engine(url: URL) -> Engine:
    path = url.database
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _: Any) -> None:
        # Leave transactions to the "begin" hook below: pysqlite's own implicit BEGIN would
        # start them lazily and always deferred, which neither a writer nor a snapshot wants.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("pragma journal_mode=wal")
        cursor.execute(f"pragma busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("pragma foreign_keys=on")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        read_only = connection.get_execution_options().get(_READ_ONLY, False)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    return engine
