"""The pipeline's view of the control plane: immutable Parquet snapshots, one table per file.

``export_snapshot`` reads every table in ONE read-only transaction, so the files agree with
each other exactly as the database did at one instant, whatever writers commit meanwhile
(SQLite in WAL mode: a deferred read transaction; PostgreSQL: REPEATABLE READ READ ONLY).
Neither backend blocks writers while it reads. The files go to a temporary directory that is
renamed into place when complete, then the ``CURRENT`` file is atomically replaced to name it,
so a reader either sees the previous snapshot or the new one, never part of one, and the
pipeline never holds the control database open (``tollgate.atomic_dirs`` does the publishing).

Layout::

    <dest>/CURRENT                              "snapshot-20261124T101500123456Z\\n"
    <dest>/snapshot-20261124T101500123456Z/customers.parquet  ... one per table
    <dest>/snapshot-20261124T101500123456Z/_manifest.json     taken_at, revision, row counts
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Connection,
    Dialect,
    Engine,
    Integer,
    String,
    Table,
    func,
    select,
)

from tollgate.atomic_dirs import CURRENT as CURRENT  # re-exported: readers name the pointer
from tollgate.atomic_dirs import current_directory, staged_directory
from tollgate.control.database import read_transaction
from tollgate.control.schema import audit_log, metadata
from tollgate.control.types import QUANTITY_SCALE, Quantity, UtcDateTime

MANIFEST = "_manifest.json"


def export_snapshot(
    engine: Engine, dest_dir: Path, *, clock: Callable[[], datetime] | None = None
) -> Path:
    """Writes a consistent snapshot of every control table under ``dest_dir``; returns its dir."""
    taken_at = (clock or (lambda: datetime.now(UTC)))()
    name = f"snapshot-{taken_at.astimezone(UTC):%Y%m%dT%H%M%S%fZ}"
    with staged_directory(dest_dir, name) as staging:
        with read_transaction(engine) as db:
            revision = _revision(db)
            # Of exactly the state exported: any later write moves the next call's marker.
            marker = _marker(db)
            counts = {
                table.name: _write_table(db, table, staging / f"{table.name}.parquet")
                for table in exported_tables()
            }
        manifest = {
            "taken_at": taken_at.isoformat(),
            "revision": revision,
            "database_marker": marker,
            "rows": counts,
        }
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return dest_dir / name


def current_snapshot(dest_dir: Path) -> Path | None:
    """The snapshot ``CURRENT`` names, or None if none was exported yet."""
    return current_directory(dest_dir)


def snapshot_if_changed(engine: Engine, dest_dir: Path) -> tuple[Path, bool]:
    """The current snapshot if the database has not changed since it was taken, else a new one
    (``export_snapshot``); and whether a new one was taken."""
    current = current_snapshot(dest_dir)
    marker = database_marker(engine)
    if current is not None:
        taken = json.loads((current / MANIFEST).read_text()).get("database_marker")
        if taken == marker:
            return current, False
    return export_snapshot(engine, dest_dir), True


def database_marker(engine: Engine) -> str:
    """A value that moves with every change made through the control plane: the newest audit
    entry and each table's row count. Every ``ControlService`` and ``KeyStore`` change writes an
    audit entry in its own transaction, and a notification read adds a row; changes made around
    them ("one way in", docs/architecture.md) are not seen."""
    with read_transaction(engine) as db:
        return _marker(db)


def _marker(db: Connection) -> str:
    newest = db.execute(select(func.max(audit_log.c.id))).scalar()
    counts = {
        table.name: db.execute(select(func.count()).select_from(table)).scalar()
        for table in exported_tables()
    }
    return json.dumps({"audit": newest, "rows": counts}, sort_keys=True)


# Secrets stay in the control database: the pipeline has no use for key hashes or for the
# webhook endpoints' signing secrets.
_NOT_EXPORTED = {("api_keys", "token_sha256"), ("webhook_endpoints", "secret")}
# The delivery dispatcher's bookkeeping (tollgate/delivery/): no pipeline input, and it changes
# with every attempt, which would make every run take a new snapshot.
_TABLES_NOT_EXPORTED = {"notification_outbox", "notification_deliveries", "delivery_attempts"}


def exported_tables() -> list[Table]:
    return [t for t in metadata.sorted_tables if t.name not in _TABLES_NOT_EXPORTED]


def exported_columns(table: Table) -> list[Column[Any]]:
    return [column for column in table.columns if (table.name, column.name) not in _NOT_EXPORTED]


def arrow_schema(table: Table) -> pa.Schema:
    return pa.schema(
        [
            pa.field(column.name, _arrow_type(column), column.nullable)
            for column in exported_columns(table)
        ]
    )


def _write_table(db: Connection, table: Table, path: Path) -> int:
    order = list(table.primary_key.columns)
    exported = exported_columns(table)
    query = select(*exported).order_by(*order)
    if db.dialect.name == "sqlite":
        # Raw driver values, converted a column at a time below: SQLAlchemy's per-value
        # parsing of SQLite's time text costs four times as much (50,000 customers are a
        # million values).
        rows = db.exec_driver_sql(str(query.compile(db))).all()
    else:
        rows = db.execute(query).all()
    values = list(zip(*rows, strict=True)) if rows else [() for _ in exported]
    columns = {
        column.name: _arrow_values(column, column_values, db.dialect)
        for column, column_values in zip(exported, values, strict=True)
    }
    pq.write_table(
        pa.Table.from_pydict(columns, schema=arrow_schema(table)), path, compression="zstd"
    )
    return len(rows)


def _arrow_type(column: Column[Any]) -> pa.DataType:
    kind = column.type
    if isinstance(kind, UtcDateTime):
        return pa.timestamp("us", tz="UTC")
    if isinstance(kind, Quantity):
        return pa.decimal128(38, QUANTITY_SCALE)
    if isinstance(kind, BigInteger | Integer):
        return pa.int64()
    if isinstance(kind, Boolean):
        return pa.bool_()
    if isinstance(kind, JSON):
        return pa.string()  # JSON text; DuckDB reads it with json functions
    if isinstance(kind, String):
        return pa.string()
    raise TypeError(f"no Parquet type for {table_column(column)} ({kind!r})")


def table_column(column: Column[Any]) -> str:
    return f"{column.table.name}.{column.name}"


def _arrow_values(column: Column[Any], values: Sequence[Any], dialect: Dialect) -> Any:
    kind = column.type
    if dialect.name == "sqlite":  # raw values: UTC wall-clock text, exact decimal text, JSON text
        if isinstance(kind, UtcDateTime):
            text = pa.array(values, pa.string())
            return text.cast(pa.timestamp("us")).cast(pa.timestamp("us", tz="UTC"))
        if isinstance(kind, Quantity):
            return [kind.process_result_value(value, dialect) for value in values]
        if isinstance(kind, Boolean):
            return [None if value is None else bool(value) for value in values]
        if isinstance(kind, JSON):
            values = [None if value is None else json.loads(value) for value in values]
    if isinstance(kind, JSON):
        return [None if value is None else json.dumps(value, sort_keys=True) for value in values]
    return list(values)


def _revision(db: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(db).get_current_revision()
