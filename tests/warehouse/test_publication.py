"""Publishing the marts: exact copies, switched to in one step, old ones pruned, names checked."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.warehouse.helpers import READ_GENERATION, TickingClock, write_generation, write_warehouse
from tollgate import atomic_dirs
from tollgate.atomic_dirs import CURRENT, current_directory
from tollgate.warehouse import MANIFEST, PublishedMarts, publish_marts

EXACT = """
    create table fct_exact (id bigint, amount decimal(38,18), billed_at timestamptz, note varchar);
    insert into fct_exact values
        (9223372036854775807, 99999999999999999999.999999999999999999,
         '2026-03-01 23:59:59.999999+00', 'max'),
        (-9223372036854775808, -99999999999999999999.999999999999999999,
         '1970-01-01 00:00:00.000001+00', 'min'),
        (1, 0.000000000000000001, '2026-11-24 10:15:00.123456+09', 'tiny'),
        (2, 12345678901234567890.123456789012345678, '2026-06-30 12:00:00+00', null),
        (3, null, null, 'nulls');
    create schema marts;
    create table marts.fct_other as select 'a' as k union all select 'b';
    create view v_positive as select id, amount from fct_exact where amount > 0;
"""


def _rows(db: duckdb.DuckDBPyConnection, table: str) -> list[tuple[Any, ...]]:
    return db.execute(f"select * from {table} order by all").fetchall()  # noqa: S608 (test's own names)


def _types(db: duckdb.DuckDBPyConnection, table: str) -> list[tuple[str, str]]:
    return [(str(name), str(kind)) for name, kind, *_ in db.execute(f"describe {table}").fetchall()]


def _epoch_us(moment: datetime) -> int:
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


def test_publishing_copies_rows_and_types_exactly(
    warehouse: Path, marts_dir: Path, clock: TickingClock
) -> None:
    write_warehouse(warehouse, EXACT)
    publication = publish_marts(
        warehouse,
        ["fct_exact", "marts.fct_other", "main.v_positive"],
        marts_dir,
        extra={"run_id": "run-1", "as_of": "2026-01-10T09:00:00+00:00"},
        clock=clock,
    )

    assert publication == marts_dir / "publication-20260110T090001000000Z"
    assert current_directory(marts_dir) == publication
    assert sorted(p.name for p in publication.iterdir()) == [
        MANIFEST,
        "fct_exact.parquet",
        "fct_other.parquet",
        "v_positive.parquet",
    ]
    assert not [p for p in marts_dir.iterdir() if p.name.startswith(".")]
    manifest = json.loads((publication / MANIFEST).read_text())
    assert manifest == {
        "published_at": "2026-01-10T09:00:01+00:00",
        "tables": {"fct_exact": 5, "fct_other": 2, "v_positive": 3},
        "extra": {"run_id": "run-1", "as_of": "2026-01-10T09:00:00+00:00"},
    }

    with (
        duckdb.connect(str(warehouse), read_only=True) as source,
        PublishedMarts(marts_dir).connect() as published,
    ):
        for table, qualified in [
            ("fct_exact", "fct_exact"),
            ("fct_other", "marts.fct_other"),
            ("v_positive", "v_positive"),
        ]:
            assert _rows(published, table) == _rows(source, qualified)
            assert _types(published, table) == _types(source, qualified)
        assert _types(published, "fct_exact") == [
            ("id", "BIGINT"),
            ("amount", "DECIMAL(38,18)"),
            ("billed_at", "TIMESTAMP WITH TIME ZONE"),
            ("note", "VARCHAR"),
        ]
        # The values themselves, not only "the same as the source": nothing went via a float.
        exact = published.execute(
            "select id, amount::varchar, epoch_us(billed_at) from fct_exact order by id"
        ).fetchall()
    assert exact == [
        (-9223372036854775808, "-99999999999999999999.999999999999999999", 1),
        (1, "0.000000000000000001", _epoch_us(datetime(2026, 11, 24, 1, 15, 0, 123456, UTC))),
        (
            2,
            "12345678901234567890.123456789012345678",
            _epoch_us(datetime(2026, 6, 30, 12, 0, 0, 0, UTC)),
        ),
        (3, None, None),
        (
            9223372036854775807,
            "99999999999999999999.999999999999999999",
            _epoch_us(datetime(2026, 3, 1, 23, 59, 59, 999999, UTC)),
        ),
    ]
    # And as Python reads them: Decimal and int, never float.
    with PublishedMarts(marts_dir).connect() as published:
        (amount,) = published.execute("select amount from fct_exact where id = 2").fetchone() or ()
    assert amount == Decimal("12345678901234567890.123456789012345678")


def test_current_switches_only_once_the_new_publication_is_complete(
    warehouse: Path, marts_dir: Path, clock: TickingClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    first_values = write_generation(warehouse, 1)
    first = publish_marts(warehouse, ["fct_x", "fct_generation"], marts_dir, clock=clock)
    second_values = write_generation(warehouse, 2)
    marts = PublishedMarts(marts_dir)
    seen_at_switch: list[object] = []
    point_current = atomic_dirs.point_current

    def check_then_switch(dest_dir: Path, name: str) -> None:
        complete = dest_dir / name
        assert sorted(p.name for p in complete.iterdir()) == [
            MANIFEST,
            "fct_generation.parquet",
            "fct_x.parquet",
        ]
        assert current_directory(dest_dir) == first
        with marts.connect() as db:
            seen_at_switch.append(db.execute(READ_GENERATION).fetchone())
        point_current(dest_dir, name)

    monkeypatch.setattr(atomic_dirs, "point_current", check_then_switch)
    second = publish_marts(warehouse, ["fct_x", "fct_generation"], marts_dir, clock=clock)

    assert seen_at_switch == [first_values]
    assert current_directory(marts_dir) == second
    assert (marts_dir / CURRENT).read_text() == second.name + "\n"
    with marts.connect() as db:
        assert db.execute(READ_GENERATION).fetchone() == second_values


@pytest.mark.parametrize("failure", ["query", "fsync"])
def test_a_failed_publication_changes_nothing_and_releases_the_warehouse(
    failure: str,
    warehouse: Path,
    marts_dir: Path,
    clock: TickingClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    write_generation(warehouse, 1)
    good = publish_marts(warehouse, ["fct_x"], marts_dir, clock=clock)
    write_warehouse(warehouse, "create view v_broken as select error('boom') as x")
    tables = ["fct_x", "v_broken"]
    if failure == "fsync":
        tables = ["fct_x"]

        def disk_full(directory: Path) -> None:
            raise OSError("disk full")

        monkeypatch.setattr(atomic_dirs, "fsync_tree", disk_full)

    with pytest.raises((OSError, duckdb.Error), match=r"disk full|boom"):
        publish_marts(warehouse, tables, marts_dir, clock=clock)

    assert current_directory(marts_dir) == good
    assert sorted(p.name for p in marts_dir.iterdir()) == [CURRENT, good.name]
    write_warehouse(warehouse, "drop view v_broken")  # the next dbt run can write at once


def test_pruning_keeps_the_newest_publications(
    warehouse: Path, marts_dir: Path, clock: TickingClock
) -> None:
    write_generation(warehouse, 1)
    published = [
        publish_marts(warehouse, ["fct_x"], marts_dir, clock=clock, keep=3) for _ in "1234567"
    ]

    assert sorted(p.name for p in marts_dir.iterdir()) == [
        CURRENT,
        *(p.name for p in published[-3:]),
    ]
    assert current_directory(marts_dir) == published[-1]


def test_pruning_never_removes_the_current_publication(
    warehouse: Path, marts_dir: Path, clock: TickingClock
) -> None:
    write_generation(warehouse, 1)
    newer = [publish_marts(warehouse, ["fct_x"], marts_dir, clock=clock) for _ in "123"]
    # The clock stepped back (NTP, a restored VM): the current one is now the oldest by name.
    skewed = TickingClock(now=datetime(2025, 12, 31, tzinfo=UTC))
    current = publish_marts(warehouse, ["fct_x"], marts_dir, clock=skewed, keep=2)

    assert current_directory(marts_dir) == current
    assert sorted(p.name for p in marts_dir.iterdir()) == [CURRENT, current.name, newer[-1].name]


def test_an_unknown_table_is_named_with_what_exists(
    warehouse: Path, marts_dir: Path, clock: TickingClock
) -> None:
    write_warehouse(warehouse, EXACT)
    with pytest.raises(ValueError, match="fct_nope") as error:
        publish_marts(warehouse, ["fct_exact", "fct_nope"], marts_dir, clock=clock)
    message = str(error.value)
    assert "main.fct_exact" in message
    assert "marts.fct_other" in message
    assert "main.v_positive" in message
    assert not marts_dir.exists()


@pytest.mark.parametrize(
    ("tables", "complaint"),
    [
        (["fct_other"], "no table or view 'fct_other'"),  # bare names: the default schema only
        (["other.fct_exact"], "no table or view 'other.fct_exact'"),
        (["a.b.c"], "<schema>.<table>"),
        (["fct_exact", "main.FCT_EXACT"], "listed twice"),
        (["fct_exact", "marts.fct_exact"], "would both be published as fct_exact.parquet"),
        ([], "no tables"),
    ],
)
def test_table_names_are_checked_before_anything_is_written(
    tables: list[str], complaint: str, warehouse: Path, marts_dir: Path
) -> None:
    write_warehouse(warehouse, EXACT + "create table marts.fct_exact as select 1 as x;")
    with pytest.raises(ValueError, match=complaint.replace(".", r"\.")):
        publish_marts(warehouse, tables, marts_dir)
    assert not marts_dir.exists()


def test_names_match_case_insensitively_and_publish_under_the_catalogue_spelling(
    warehouse: Path, marts_dir: Path
) -> None:
    write_warehouse(warehouse, 'create table "Fct_Mixed" as select 1 as x')
    publication = publish_marts(warehouse, ["MAIN.fct_mixed"], marts_dir)
    assert (publication / "Fct_Mixed.parquet").is_file()
    with PublishedMarts(marts_dir).connect() as db:
        assert db.execute("select x from fct_mixed").fetchall() == [(1,)]


def test_a_missing_warehouse_is_reported_as_such(tmp_path: Path, marts_dir: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no warehouse at"):
        publish_marts(tmp_path / "missing.duckdb", ["fct_x"], marts_dir)
    assert not (tmp_path / "missing.duckdb").exists()


def test_publication_names_are_never_reused(warehouse: Path, marts_dir: Path) -> None:
    write_generation(warehouse, 1)

    def frozen() -> datetime:
        return datetime(2026, 1, 10, 9, 0, tzinfo=UTC)

    first = publish_marts(warehouse, ["fct_x"], marts_dir, clock=frozen)
    before = {p.name: p.read_bytes() for p in first.iterdir()}
    with pytest.raises(FileExistsError, match="immutable"):
        publish_marts(warehouse, ["fct_x"], marts_dir, clock=frozen)
    assert {p.name: p.read_bytes() for p in first.iterdir()} == before
    assert sorted(p.name for p in marts_dir.iterdir()) == [CURRENT, first.name]


def test_rows_written_to_the_warehouse_after_publishing_are_not_published(
    warehouse: Path, marts_dir: Path, clock: TickingClock
) -> None:
    expected = write_generation(warehouse, 3)
    publish_marts(warehouse, ["fct_x", "fct_generation"], marts_dir, clock=clock)
    write_generation(warehouse, 4)
    with PublishedMarts(marts_dir).connect() as db:
        assert db.execute(READ_GENERATION).fetchone() == expected
