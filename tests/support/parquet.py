"""Reading what the ingest API published, the way the pipeline will."""

from __future__ import annotations

from pathlib import Path

import duckdb


def stored_keys(events_dir: Path) -> list[tuple[str, str]]:
    """Every stored (customer_id, event_id), one entry per stored row (repeats included)."""
    files = sorted(str(p) for p in events_dir.glob("date=*/*.parquet"))
    if not files:
        return []
    with duckdb.connect() as db:
        rows = db.execute("select customer_id, event_id from read_parquet(?)", [files]).fetchall()
    return [(str(c), str(e)) for c, e in rows]


def stored_rows(events_dir: Path) -> list[dict[str, object]]:
    files = sorted(str(p) for p in events_dir.glob("date=*/*.parquet"))
    if not files:
        return []
    with duckdb.connect() as db:
        relation = db.execute("select * from read_parquet(?) order by event_id", [files])
        columns = [d[0] for d in relation.description]
        return [dict(zip(columns, row, strict=True)) for row in relation.fetchall()]
