from __future__ import annotations

import asyncio
import shutil
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from ingest_api.storage.compactor import Compactor, compact_all, compact_segment
from ingest_api.storage.rows import EVENTS_SCHEMA, to_micros
from ingest_api.storage.wal import frame, segment_name
from tests.support.rows import Row, record
from tests.support.server import eventually

MAX_QUANTITY = "999999999999999999.999999999"


def make_row(event_id: str, moment: datetime, quantity: str = "1") -> Row:
    return (
        event_id,
        "cus_1",
        "api_call",
        "calls",
        quantity,
        "call",
        to_micros(moment),
        to_micros(moment),
        {"region": "eu"},
        None,
    )


def write_segment(wal_dir: Path, seq: int, batches: list[list[Row]]) -> Path:
    wal_dir.mkdir(parents=True, exist_ok=True)
    path = wal_dir / segment_name(seq)
    path.write_bytes(b"".join(frame(record(batch)) for batch in batches))
    return path


LATE = datetime(2024, 3, 1, 23, 59, 59, 999_999, tzinfo=UTC)
MIDNIGHT = datetime(2024, 3, 2, tzinfo=UTC)
NOON = datetime(2024, 3, 2, 12, tzinfo=UTC)


def two_day_segment(wal_dir: Path, seq: int = 7) -> Path:
    return write_segment(
        wal_dir,
        seq,
        [
            [make_row("late", LATE, "0.000000001"), make_row("midnight", MIDNIGHT, MAX_QUANTITY)],
            [make_row("noon", NOON, "2.5")],
        ],
    )


def read_ids(paths: list[Path]) -> list[str]:
    return [str(e) for p in paths for e in pq.read_table(p).column("event_id").to_pylist()]


def all_parts(events_dir: Path) -> list[Path]:
    return sorted(events_dir.rglob("*.parquet"))


def test_compact_segment_splits_by_utc_date_with_exact_quantities(tmp_path: Path) -> None:
    segment = two_day_segment(tmp_path / "wal")
    events = tmp_path / "events"

    published = compact_segment(segment, events)

    assert published == [
        events / "date=2024-03-01" / "part-000000000007.parquet",
        events / "date=2024-03-02" / "part-000000000007.parquet",
    ]
    first, second = (pq.read_table(p) for p in published)
    assert first.schema.equals(EVENTS_SCHEMA)
    assert second.schema.equals(EVENTS_SCHEMA)
    assert first.column("event_id").to_pylist() == ["late"]
    assert first.column("quantity").to_pylist() == [Decimal("0.000000001")]
    assert second.column("event_id").to_pylist() == ["midnight", "noon"]
    assert second.column("quantity").to_pylist() == [Decimal(MAX_QUANTITY), Decimal("2.5")]
    assert second.column("properties").to_pylist()[0] == [("region", "eu")]
    assert pq.ParquetFile(published[0]).metadata.row_group(0).column(0).compression == "ZSTD"
    assert not segment.exists()


def test_compacting_again_after_a_crash_before_the_segment_was_deleted(tmp_path: Path) -> None:
    wal, events = tmp_path / "wal", tmp_path / "events"
    segment = two_day_segment(wal)
    backup = shutil.copy(segment, tmp_path / "segment.bak")
    first = compact_segment(segment, events)
    inodes = [p.stat().st_ino for p in first]
    # The crash happened after publishing: the segment is still there, and a temp file too.
    shutil.copy(backup, segment)
    (first[0].parent / ".part-000000000007-deadbeef.tmp").write_bytes(b"half written")

    second = compact_segment(segment, events)

    assert second == first
    assert [p.stat().st_ino for p in second] == inodes  # published files are never replaced
    assert sorted(read_ids(all_parts(events))) == ["late", "midnight", "noon"]
    assert not list(events.rglob("*.tmp"))
    assert not segment.exists()


def test_compacting_again_after_a_crash_between_two_dates(tmp_path: Path) -> None:
    wal, events = tmp_path / "wal", tmp_path / "events"
    segment = two_day_segment(wal)
    backup = shutil.copy(segment, tmp_path / "segment.bak")
    published = compact_segment(segment, events)
    published[1].unlink()  # only the first date made it before the crash
    shutil.copy(backup, segment)

    assert compact_segment(segment, events) == published
    assert sorted(read_ids(all_parts(events))) == ["late", "midnight", "noon"]


def test_compact_segment_stops_at_a_torn_tail(tmp_path: Path) -> None:
    segment = two_day_segment(tmp_path / "wal")
    segment.write_bytes(segment.read_bytes()[:-3])

    published = compact_segment(segment, tmp_path / "events")

    assert read_ids(published) == ["late", "midnight"]


def test_empty_segment_is_just_deleted(tmp_path: Path) -> None:
    segment = write_segment(tmp_path / "wal", 1, [])

    assert compact_segment(segment, tmp_path / "events") == []
    assert not segment.exists()
    assert not (tmp_path / "events").exists()


def test_compact_all_compacts_every_segment(tmp_path: Path) -> None:
    wal, events = tmp_path / "wal", tmp_path / "events"
    write_segment(wal, 2, [[make_row("b", NOON)]])
    write_segment(wal, 1, [[make_row("a", NOON)]])

    published = compact_all(wal, events)

    assert [p.name for p in published] == ["part-000000000001.parquet", "part-000000000002.parquet"]
    assert read_ids(published) == ["a", "b"]
    assert not list(wal.iterdir())


@pytest.mark.timeout(120)
def test_compactor_publishes_in_a_spawned_process_and_deletes_segments(tmp_path: Path) -> None:
    wal, events = tmp_path / "wal", tmp_path / "events"
    segments = [write_segment(wal, seq, [[make_row(f"e{seq}", NOON)]]) for seq in (1, 2)]
    reports: list[tuple[list[Path], float]] = []

    async def scenario() -> None:
        compactor = Compactor(events, on_published=lambda p, s: reports.append((p, s)))
        for segment in segments:
            compactor.submit(segment)
        assert compactor.pending == 2
        await compactor.drain()
        assert compactor.pending == 0
        await compactor.close()

    asyncio.run(scenario())

    assert not any(s.exists() for s in segments)
    assert read_ids(all_parts(events)) == ["e1", "e2"]
    assert sorted(path.name for paths, _ in reports for path in paths) == [
        "part-000000000001.parquet",
        "part-000000000002.parquet",
    ]
    assert all(seconds >= 0 for _, seconds in reports)


def unpublishable_segment(tmp_path: Path) -> tuple[Path, Path]:
    """A segment, and an events "directory" that is a file, so publishing it fails."""
    segment = write_segment(tmp_path / "wal", 1, [[make_row("e", NOON)]])
    events = tmp_path / "events"
    events.write_bytes(b"a file where the events directory should be")
    return segment, events


@pytest.mark.timeout(120)
def test_compactor_retries_until_the_segment_can_be_published(tmp_path: Path) -> None:
    segment, events = unpublishable_segment(tmp_path)

    async def scenario() -> None:
        compactor = Compactor(events, initial_backoff=0.01, max_backoff=0.05)
        compactor.submit(segment)
        await eventually(lambda: compactor.failures >= 2, "failed attempts")
        assert segment.exists()  # a failed segment stays on disk
        events.unlink()
        await compactor.close()

    asyncio.run(scenario())

    assert not segment.exists()
    assert read_ids(all_parts(events)) == ["e"]


def test_close_gives_up_on_a_segment_that_cannot_be_published(tmp_path: Path) -> None:
    """A stopping server must not hang while compaction keeps failing; the segment waits."""
    segment, events = unpublishable_segment(tmp_path)

    async def scenario() -> None:
        compactor = Compactor(events, initial_backoff=0.01, max_backoff=0.05)
        compactor.submit(segment)
        await eventually(lambda: compactor.failures >= 1, "a failed attempt")
        await compactor.close(drain_limit=0.5)
        assert compactor.pending == 0

    asyncio.run(scenario())
    assert segment.exists()
