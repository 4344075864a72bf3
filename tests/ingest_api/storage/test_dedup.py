from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import xxhash

from ingest_api.storage.compactor import compact_segment
from ingest_api.storage.dedup import DedupIndex, approx_bytes_per_entry
from ingest_api.storage.rows import decode_record, to_micros
from ingest_api.storage.wal import frame, segment_name
from tests.support.rows import Row, record

WINDOW = timedelta(days=35)
TODAY = date(2024, 3, 10)
CUTOFF = TODAY - WINDOW  # 2024-02-04: still inside the window


def make_row(customer_id: str, event_id: str, moment: datetime) -> Row:
    micros = to_micros(moment)
    return (event_id, customer_id, "api_call", "calls", "1", "call", micros, micros, {}, None)


def at(day: date, hour: int = 12) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def publish(events_dir: Path, seq: int, rows: list[Row]) -> None:
    segment = events_dir.parent / "wal" / segment_name(seq)
    segment.parent.mkdir(parents=True, exist_ok=True)
    segment.write_bytes(frame(record(rows)))
    compact_segment(segment, events_dir)


def test_key_hashes_customer_and_event_with_a_separator() -> None:
    assert DedupIndex.key("cus_1", "evt_1") == xxhash.xxh3_128_intdigest(b"cus_1\x1fevt_1")
    assert DedupIndex.key("cus_1", "evt_1") != DedupIndex.key("cus_2", "evt_1")
    assert DedupIndex.key("ab", "c") != DedupIndex.key("a", "bc")


def test_add_contains_event_date_and_discard() -> None:
    index = DedupIndex(WINDOW)
    key = DedupIndex.key("cus_1", "evt_1")
    assert key not in index
    assert index.event_date(key) is None

    index.add(key, TODAY)

    assert key in index
    assert len(index) == 1
    assert index.event_date(key) == TODAY
    index.discard(key)
    index.discard(key)  # discarding an absent key is harmless
    assert key not in index
    assert len(index) == 0


def test_expire_drops_only_dates_before_the_window() -> None:
    index = DedupIndex(WINDOW)
    inside, edge, outside = (DedupIndex.key("c", e) for e in ("inside", "edge", "outside"))
    index.add(inside, TODAY)
    index.add(edge, CUTOFF)
    index.add(outside, CUTOFF - timedelta(days=1))

    assert index.expire(TODAY) == 1

    assert inside in index
    assert edge in index
    assert outside not in index
    assert index.expire(TODAY) == 0


def test_load_events_uses_the_utc_date_of_the_timestamp() -> None:
    index = DedupIndex(WINDOW)
    last_microsecond = datetime(2024, 3, 1, 23, 59, 59, 999_999, tzinfo=UTC)
    rows = [
        make_row("cus_1", "late", last_microsecond),
        make_row("cus_1", "next", last_microsecond + timedelta(microseconds=1)),
        make_row("cus_1", "before_epoch", datetime(1969, 12, 31, 23, tzinfo=UTC)),
    ]

    assert index.load_events(decode_record(record(rows)).events) == 3

    assert index.event_date(DedupIndex.key("cus_1", "late")) == date(2024, 3, 1)
    assert index.event_date(DedupIndex.key("cus_1", "next")) == date(2024, 3, 2)
    assert index.event_date(DedupIndex.key("cus_1", "before_epoch")) == date(1969, 12, 31)


def test_load_parquet_reads_partitions_in_the_window_and_skips_older_ones(
    tmp_path: Path,
) -> None:
    events = tmp_path / "events"
    publish(
        events, 1, [make_row("cus_1", "recent", at(TODAY)), make_row("cus_2", "edge", at(CUTOFF))]
    )
    publish(events, 2, [make_row("cus_1", "old", at(CUTOFF - timedelta(days=1)))])
    # Older partitions must be skipped by name: this one would fail to parse if it were read.
    (events / "date=2024-01-01").mkdir()
    (events / "date=2024-01-01" / "part-000000000003.parquet").write_bytes(b"not parquet")
    (events / "not-a-partition").mkdir()
    index = DedupIndex(WINDOW)

    assert index.load_parquet(events, TODAY) == 2

    assert index.event_date(DedupIndex.key("cus_1", "recent")) == TODAY
    assert index.event_date(DedupIndex.key("cus_2", "edge")) == CUTOFF
    assert DedupIndex.key("cus_1", "old") not in index


def test_load_parquet_of_a_missing_directory_loads_nothing(tmp_path: Path) -> None:
    assert DedupIndex(WINDOW).load_parquet(tmp_path / "missing", TODAY) == 0


def test_entries_stay_compact() -> None:
    # A 128-bit key object plus a dict slot; without one shared int per date it would be
    # about 32 bytes more.
    assert 40 < approx_bytes_per_entry(50_000) < 116


def test_admit_uses_the_same_key_as_key_sets_repeats_apart_and_can_forget() -> None:
    from decimal import Decimal

    from ingest_api.events.model import UsageEvent

    moment = at(TODAY)
    events = [
        UsageEvent(e, c, "api_call", "calls", Decimal(1), "call", moment, {})
        for c, e in (("cus_1", "a"), ("cus_1", "b"), ("cus_2", "a"), ("cus_1", "a"))
    ]
    index = DedupIndex(WINDOW)
    admitted = index.admit(events)
    assert [(e.customer_id, e.event_id) for e in admitted.new] == [
        ("cus_1", "a"),
        ("cus_1", "b"),
        ("cus_2", "a"),
    ]
    assert admitted.repeats == [events[3]]
    # admit computes keys inline; they must be exactly the keys of ``key``.
    assert all(index.event_date(DedupIndex.key(e.customer_id, e.event_id)) for e in admitted.new)
    assert index.event_date(DedupIndex.key("cus_2", "a")) == TODAY
    assert index.admit(events[:1]).repeats == events[:1]
    index.forget(events[:1])
    assert index.admit(events[:1]).new == events[:1]


def test_wal_readers_decode_the_fields_writers_encode() -> None:
    from ingest_api.events.model import UsageEvent
    from ingest_api.storage.rows import StoredEvent

    # The WAL is written as UsageEvent arrays and read as StoredEvent arrays: same order.
    assert StoredEvent.__struct_fields__ == UsageEvent.__struct_fields__
