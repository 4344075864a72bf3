"""Reading the published marts: plain queries, a stable publication per connection, cheap."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from tests.warehouse.helpers import READ_GENERATION, TickingClock, write_generation
from tollgate.atomic_dirs import current_directory
from tollgate.warehouse import NothingPublishedError, PublishedMarts, publish_marts
from tollgate.warehouse import reader as reader_module

TABLES = ["fct_x", "fct_generation"]


@pytest.mark.parametrize("exists", [False, True])
def test_before_any_publication_readers_are_told_to_run_the_pipeline(
    exists: bool, marts_dir: Path
) -> None:
    if exists:
        marts_dir.mkdir()
    marts = PublishedMarts(marts_dir)
    with pytest.raises(NothingPublishedError, match="has not published any marts yet") as error:
        marts.connect()
    assert str(marts_dir) in str(error.value)
    assert "tollgate pipeline run" in str(error.value)
    with pytest.raises(NothingPublishedError):
        marts.manifest()
    assert marts.published_at() is None


def test_the_manifest_and_publication_time_are_the_current_ones(
    warehouse: Path, marts_dir: Path, clock: TickingClock
) -> None:
    marts = PublishedMarts(marts_dir)
    write_generation(warehouse, 1)
    publish_marts(warehouse, TABLES, marts_dir, clock=clock, extra={"run_id": "r1"})
    write_generation(warehouse, 2)
    publish_marts(warehouse, TABLES, marts_dir, clock=clock, extra={"run_id": "r2"})

    assert marts.published_at() == datetime(2026, 1, 10, 9, 0, 2, tzinfo=UTC)
    assert marts.manifest() == {
        "published_at": "2026-01-10T09:00:02+00:00",
        "tables": {"fct_x": 102, "fct_generation": 1},
        "extra": {"run_id": "r2"},
    }


def test_a_connection_stays_on_its_publication_while_newer_ones_appear(
    warehouse: Path, marts_dir: Path, clock: TickingClock
) -> None:
    marts = PublishedMarts(marts_dir)
    first = write_generation(warehouse, 1)
    n = publish_marts(warehouse, TABLES, marts_dir, clock=clock)
    held = marts.connect()
    assert held.execute(READ_GENERATION).fetchone() == first

    later = []
    for generation in (2, 3, 4):
        later.append(write_generation(warehouse, generation))
        publish_marts(warehouse, TABLES, marts_dir, clock=clock)
        with marts.connect() as fresh:
            assert fresh.execute(READ_GENERATION).fetchone() == later[-1]
        assert held.execute(READ_GENERATION).fetchone() == first

    assert held.execute("select current_schema()").fetchone() == (n.name,)
    held.close()
    # A second reader object in the same process reads the newest one too.
    with PublishedMarts(marts_dir).connect() as other:
        assert other.execute(READ_GENERATION).fetchone() == later[-1]


def test_connections_are_independent(warehouse: Path, marts_dir: Path, clock: TickingClock) -> None:
    write_generation(warehouse, 1)
    publish_marts(warehouse, TABLES, marts_dir, clock=clock)
    marts = PublishedMarts(marts_dir)
    with marts.connect() as one, marts.connect() as two:
        one.execute("create temp table scratch as select 1 as x")
        one.execute("set TimeZone = 'Asia/Tokyo'")
        with pytest.raises(duckdb.CatalogException, match="scratch"):
            two.execute("select * from scratch")
        assert two.execute("select current_setting('TimeZone')").fetchone() != ("Asia/Tokyo",)


def test_views_of_removed_publications_are_dropped(
    warehouse: Path, marts_dir: Path, clock: TickingClock
) -> None:
    marts = PublishedMarts(marts_dir)
    write_generation(warehouse, 1)
    for _ in range(6):
        publish_marts(warehouse, TABLES, marts_dir, clock=clock, keep=2)
        marts.connect().close()
    with marts.connect() as db:
        schemas = db.execute(
            "select schema_name from information_schema.schemata"
            " where catalog_name = current_database() and schema_name like 'publication-%'"
            " order by all"
        ).fetchall()
    on_disk = sorted(p.name for p in marts_dir.glob("publication-*"))
    assert [name for (name,) in schemas] == on_disk
    assert len(on_disk) == 2


def test_a_publication_removed_while_connecting_is_skipped_for_the_newer_one(
    warehouse: Path, marts_dir: Path, clock: TickingClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Needs ``keep`` publications between reading CURRENT and reading what it names; rare, but
    a reader must then open the newer publication, not fail."""
    write_generation(warehouse, 1)
    stale = publish_marts(warehouse, TABLES, marts_dir, clock=clock, keep=1)
    newest = write_generation(warehouse, 2)
    read_manifest = reader_module._read_manifest
    raced: list[Path] = []

    def publish_first(publication: Path) -> dict[str, object]:
        if not raced:
            raced.append(publish_marts(warehouse, TABLES, marts_dir, clock=clock, keep=1))
            assert not stale.exists()
        return read_manifest(publication)

    monkeypatch.setattr(reader_module, "_read_manifest", publish_first)
    with PublishedMarts(marts_dir).connect() as db:
        assert db.execute(READ_GENERATION).fetchone() == newest
    assert current_directory(marts_dir) == raced[0]


def test_connect_and_query_cost(
    warehouse: Path, marts_dir: Path, clock: TickingClock, capsys: pytest.CaptureFixture[str]
) -> None:
    """Measured, not asserted: one connection per request must stay cheap (see reader.py)."""
    write_generation(warehouse, 900)  # 1,000 rows
    publish_marts(warehouse, TABLES, marts_dir, clock=clock)
    marts = PublishedMarts(marts_dir)
    marts.connect().close()  # the first one builds the views

    rounds = 200
    started = time.perf_counter()
    for _ in range(rounds):
        with marts.connect() as db:
            db.execute("select count(*), sum(amount) from fct_x").fetchone()
    per_request_ms = (time.perf_counter() - started) / rounds * 1000

    started = time.perf_counter()
    for _ in range(20):
        with PublishedMarts(marts_dir).connect() as db:  # a new in-memory database each time
            db.execute("select count(*), sum(amount) from fct_x").fetchone()
    fresh_database_ms = (time.perf_counter() - started) / 20 * 1000
    with capsys.disabled():
        print(
            f"\n  PublishedMarts.connect() + small query: {per_request_ms:.2f} ms"
            f" (with a new in-memory database per request: {fresh_database_ms:.2f} ms)"
        )
