"""Reading the pipeline's published marts: one publication per request, and what it is "as of".

Until the pipeline first publishes, there is no publication: routes then answer with empty
lists and ``as_of: null`` rather than an error.
"""

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import duckdb

from tollgate.warehouse.publication import MANIFEST
from tollgate.warehouse.reader import NothingPublishedError, PublishedMarts


@dataclass(frozen=True, slots=True)
class Publication:
    connection: duckdb.DuckDBPyConnection
    name: str
    as_of: datetime | None

    def rows(self, sql: str, parameters: dict[str, Any]) -> list[dict[str, Any]]:
        """The result as dicts, timestamps in UTC."""
        cursor = self.connection.execute(sql, parameters)
        columns = [column[0] for column in cursor.description or []]
        return [
            {name: _utc(value) for name, value in zip(columns, row, strict=True)}
            for row in cursor.fetchall()
        ]


@contextmanager
def publication(marts: PublishedMarts) -> Iterator[Publication | None]:
    """The current publication, or None if nothing has been published yet."""
    try:
        connection = marts.connect()
    except NothingPublishedError:
        yield None
        return
    with connection:
        found = connection.execute("select current_schema()").fetchone()
        assert found is not None
        name = str(found[0])
        # This connection's own publication's manifest, not whatever is current by now.
        manifest = json.loads((marts.dest_dir / name / MANIFEST).read_text())
        as_of_text = manifest.get("extra", {}).get("as_of") or manifest.get("published_at")
        as_of = datetime.fromisoformat(as_of_text).astimezone(UTC) if as_of_text else None
        yield Publication(connection, name, as_of)


def _utc(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC)
    return value
