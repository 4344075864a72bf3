from __future__ import annotations

import asyncio
import errno
import os
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest_api.storage.rows import StoredEvent
from ingest_api.storage.wal import (
    WalFailure,
    WriteAheadLog,
    frame,
    iter_records,
    list_segments,
    segment_name,
    segment_seq,
)
from tests.support.rows import Row, record
from tests.support.server import eventually

DEADLINE_SECONDS = 10.0


def make_row(event_id: str, customer_id: str = "cus_1") -> Row:
    return (
        event_id,
        customer_id,
        "api_call",
        "calls",
        "1",
        "call",
        1_700_000_000_000_000,
        1,
        {},
        None,
    )


def payload(*event_ids: str) -> bytes:
    return record([make_row(event_id) for event_id in event_ids])


def event_ids(events: list[StoredEvent]) -> list[str]:
    return [event.event_id for event in events]


def make_wal(
    wal_dir: Path,
    sealed: list[Path] | None = None,
    *,
    max_bytes: int = 1 << 30,
    max_age: timedelta = timedelta(hours=1),
) -> WriteAheadLog:
    sink: list[Path] = [] if sealed is None else sealed
    return WriteAheadLog(
        wal_dir, segment_max_bytes=max_bytes, segment_max_age=max_age, on_sealed=sink.append
    )


def recovered_ids(wal_dir: Path) -> list[str]:
    return [eid for seg in make_wal(wal_dir).recover() for eid in event_ids(seg.events)]


def run(test: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(test(), DEADLINE_SECONDS * 3))


# -- durability and group commit ----------------------------------------------------------------


def test_awaited_records_are_found_by_a_fresh_recover(tmp_path: Path) -> None:
    async def scenario() -> None:
        wal = make_wal(tmp_path)
        await wal.start()
        ticket = 0
        for n in range(3):
            ticket = wal.append(payload(f"e{n}a", f"e{n}b"))
        await wal.wait_durable(ticket)
        # No close: a second reader sees the file the way a restart after a crash would.
        assert recovered_ids(tmp_path) == ["e0a", "e0b", "e1a", "e1b", "e2a", "e2b"]
        await wal.close()

    run(scenario)


def test_concurrent_waiters_share_fsync_rounds(tmp_path: Path) -> None:
    writers = 200

    async def scenario() -> None:
        wal = make_wal(tmp_path)
        await wal.start()

        async def writer(n: int) -> None:
            await wal.wait_durable(wal.append(payload(f"e{n}")))

        await asyncio.gather(*(writer(n) for n in range(writers)))
        assert 0 < wal.commit_rounds < writers
        assert wal.last_fsync_seconds >= 0
        assert sorted(recovered_ids(tmp_path)) == sorted(f"e{n}" for n in range(writers))
        await wal.close()

    run(scenario)


def test_waiting_on_an_older_ticket_after_a_newer_one(tmp_path: Path) -> None:
    async def scenario() -> None:
        wal = make_wal(tmp_path)
        await wal.start()
        first = wal.append(payload("a"))
        second = wal.append(payload("b"))
        assert wal.durable_ticket_for_now() == second > first
        await wal.wait_durable(second)
        await wal.wait_durable(first)
        await wal.wait_durable(wal.durable_ticket_for_now())
        with pytest.raises(ValueError, match="never issued"):
            await wal.wait_durable(second + 1)
        await wal.close()

    run(scenario)


def test_durable_ticket_for_now_waits_for_earlier_appends(tmp_path: Path) -> None:
    async def scenario() -> None:
        wal = make_wal(tmp_path)
        await wal.start()
        wal.append(payload("unawaited"))
        await wal.wait_durable(wal.durable_ticket_for_now())
        assert recovered_ids(tmp_path) == ["unawaited"]
        await wal.close()

    run(scenario)


def test_close_commits_buffered_records_and_seals(tmp_path: Path) -> None:
    sealed: list[Path] = []

    async def scenario() -> None:
        wal = make_wal(tmp_path, sealed)
        await wal.start()
        wal.append(payload("buffered"))
        await wal.close()
        with pytest.raises(RuntimeError, match="not running"):
            wal.append(payload("late"))

    run(scenario)
    assert [path.name for path in sealed] == [segment_name(1)]
    assert recovered_ids(tmp_path) == ["buffered"]


def test_wal_bytes_counts_segment_files(tmp_path: Path) -> None:
    async def scenario() -> None:
        wal = make_wal(tmp_path)
        await wal.start()
        assert wal.wal_bytes == 0
        data = payload("a")
        await wal.wait_durable(wal.append(data))
        assert wal.wal_bytes == len(frame(data))
        await wal.close()

    run(scenario)


def test_on_commit_reports_each_round(tmp_path: Path) -> None:
    latencies: list[float] = []

    async def scenario() -> None:
        wal = WriteAheadLog(
            tmp_path,
            segment_max_bytes=1 << 30,
            segment_max_age=timedelta(hours=1),
            on_sealed=lambda _: None,
            on_commit=latencies.append,
        )
        await wal.start()
        await wal.wait_durable(wal.append(payload("a")))
        await wal.wait_durable(wal.append(payload("b")))
        assert len(latencies) == wal.commit_rounds == 2
        await wal.close()

    run(scenario)


# -- recovery ----------------------------------------------------------------------------------


def write_segment(wal_dir: Path, seq: int, payloads: list[bytes]) -> Path:
    path = wal_dir / segment_name(seq)
    path.write_bytes(b"".join(frame(p) for p in payloads))
    return path


def _cut_mid_header(data: bytes, last: int) -> bytes:
    return data[: last + 3]


def _cut_mid_payload(data: bytes, last: int) -> bytes:
    return data[:-2]


def _flip_payload_byte(data: bytes, last: int) -> bytes:
    broken = bytearray(data)
    broken[-1] ^= 0xFF
    return bytes(broken)


def _flip_crc_byte(data: bytes, last: int) -> bytes:
    broken = bytearray(data)
    broken[last + 4] ^= 0x01
    return bytes(broken)


def _zero_fill_tail(data: bytes, last: int) -> bytes:
    return data[:last] + bytes(len(data) - last)


@pytest.mark.parametrize(
    "damage",
    [_cut_mid_header, _cut_mid_payload, _flip_payload_byte, _flip_crc_byte, _zero_fill_tail],
)
def test_recover_truncates_torn_tail_and_keeps_earlier_records(
    tmp_path: Path, damage: Callable[[bytes, int], bytes]
) -> None:
    good = [payload("a"), payload("b", "c")]
    path = write_segment(tmp_path, 1, [*good, payload("torn")])
    last_record_start = sum(len(frame(p)) for p in good)
    path.write_bytes(damage(path.read_bytes(), last_record_start))

    [segment] = make_wal(tmp_path).recover()

    assert segment.path == path
    assert event_ids(segment.events) == ["a", "b", "c"]
    assert path.stat().st_size == last_record_start


def test_recover_reads_segments_in_sequence_order_and_start_opens_the_next(
    tmp_path: Path,
) -> None:
    write_segment(tmp_path, 10, [payload("ten")])
    write_segment(tmp_path, 9, [payload("nine")])
    (tmp_path / "not-a-segment.wal").write_bytes(b"ignored")
    wal = make_wal(tmp_path)

    recovered = wal.recover()

    assert [segment_seq(s.path) for s in recovered] == [9, 10]
    assert [event_ids(s.events) for s in recovered] == [["nine"], ["ten"]]

    async def scenario() -> None:
        await wal.start()
        assert wal.active_segment == tmp_path / segment_name(11)
        await wal.close()

    run(scenario)


def test_sequence_numbers_are_not_reused_after_segments_are_deleted(tmp_path: Path) -> None:
    async def one_run() -> None:
        wal = make_wal(tmp_path)
        wal.recover()
        await wal.start()
        await wal.wait_durable(wal.append(payload("x")))
        await wal.close()

    run(one_run)
    for segment in list_segments(tmp_path):
        segment.unlink()  # as the compactor does once a segment is in Parquet
    run(one_run)

    assert [path.name for path in list_segments(tmp_path)] == [segment_name(2)]


@given(
    records=st.lists(st.binary(min_size=1, max_size=64), min_size=1, max_size=8),
    cut=st.integers(min_value=0),
)
def test_iter_records_yields_exactly_the_complete_prefix(records: list[bytes], cut: int) -> None:
    framed = [frame(r) for r in records]
    data = b"".join(framed)
    cut %= len(data) + 1

    parsed = list(iter_records(data[:cut]))

    ends, total = [], 0
    for f in framed:
        total += len(f)
        ends.append(total)
    complete = [i for i, end in enumerate(ends) if end <= cut]
    assert [p for p, _ in parsed] == [records[i] for i in complete]
    assert [end for _, end in parsed] == [ends[i] for i in complete]


# -- rotation ----------------------------------------------------------------------------------


def test_size_rotation_seals_and_advances_the_sequence(tmp_path: Path) -> None:
    sealed: list[Path] = []
    big = payload(*(f"e{n}" for n in range(40)))
    assert len(big) > 1000

    async def scenario() -> None:
        wal = make_wal(tmp_path, sealed, max_bytes=2 * len(big))
        await wal.start()
        # Two records reach the limit, so the fifth lands alone in the third segment.
        for _ in range(5):
            await wal.wait_durable(wal.append(big))
        assert [segment_seq(p) for p in sealed] == [1, 2]
        assert wal.active_segment == tmp_path / segment_name(3)
        sizes = [p.stat().st_size for p in sealed]
        await wal.wait_durable(wal.append(big))
        # Waiters are released before the rotation that follows their commit round.
        await eventually(lambda: len(sealed) == 3, "the third segment to be sealed")
        assert wal.active_segment == tmp_path / segment_name(4)
        # Sealed segments are never written again.
        assert [p.stat().st_size for p in sealed[:2]] == sizes
        await wal.close()

    run(scenario)
    assert [segment_seq(p) for p in sealed] == [1, 2, 3, 4]
    assert [len(s.events) for s in make_wal(tmp_path).recover()] == [80, 80, 80, 0]


def test_next_seq_names_the_segment_each_record_is_written_to(tmp_path: Path) -> None:
    """The live limits count an event under its segment when admitting it, before the write:
    the prediction must hold while rounds and rotations happen concurrently."""
    big = payload(*(f"e{n}" for n in range(40)))

    async def scenario() -> None:
        wal = make_wal(tmp_path, max_bytes=3 * len(big))
        await wal.start()
        predicted: dict[str, int] = {}

        async def writer(name: str, count: int) -> list[tuple[int, int]]:
            found = []
            for n in range(count):
                record_id = f"{name}-{n}"
                predicted[record_id] = wal.next_seq
                seq = await wal.wait_durable(wal.append(payload(record_id)))
                found.append((predicted[record_id], seq))
                if n % 3 == 0:
                    # Larger records in between, so that rotations fall mid-burst.
                    predicted[f"{record_id}-big"] = wal.next_seq
                    big_seq = await wal.wait_durable(wal.append(big))
                    found.append((predicted[f"{record_id}-big"], big_seq))
            return found

        results = await asyncio.gather(*(writer(f"w{w}", 30) for w in range(8)))
        await wal.close()
        pairs = [pair for found in results for pair in found]
        assert len({seq for _, seq in pairs}) > 3  # rotations did happen
        assert all(expected == seq for expected, seq in pairs)
        on_disk = {
            event_id: segment_seq(segment.path)
            for segment in make_wal(tmp_path).recover()
            for event_id in event_ids(segment.events)
            if "-" in event_id
        }
        assert on_disk == {k: v for k, v in predicted.items() if not k.endswith("-big")}

    run(scenario)


def test_age_rotation_seals_a_non_empty_segment(tmp_path: Path) -> None:
    async def scenario() -> None:
        sealed = asyncio.Event()
        paths: list[Path] = []

        def on_sealed(path: Path) -> None:
            paths.append(path)
            sealed.set()

        wal = WriteAheadLog(
            tmp_path,
            segment_max_bytes=1 << 30,
            segment_max_age=timedelta(milliseconds=20),
            on_sealed=on_sealed,
        )
        await wal.start()
        await wal.wait_durable(wal.append(payload("old")))
        await asyncio.wait_for(sealed.wait(), DEADLINE_SECONDS)
        assert [segment_seq(p) for p in paths] == [1]
        assert wal.active_segment == tmp_path / segment_name(2)
        await wal.close()

    run(scenario)


# -- failure -----------------------------------------------------------------------------------


def test_fsync_failure_fails_pending_and_future_waiters(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_sync(fd: int) -> None:
        raise OSError(errno.EIO, "injected I/O error")

    async def scenario() -> None:
        wal = make_wal(tmp_path)
        await wal.start()
        await wal.wait_durable(wal.append(payload("before")))
        monkeypatch.setattr(os, "fdatasync", broken_sync)
        monkeypatch.setattr(os, "fsync", broken_sync)

        tickets = [wal.append(payload(f"e{n}")) for n in range(5)]
        results = await asyncio.gather(
            *(wal.wait_durable(t) for t in tickets), return_exceptions=True
        )

        assert all(isinstance(r, WalFailure) for r in results)
        assert wal.failed
        with pytest.raises(WalFailure):
            await wal.wait_durable(wal.append(payload("after")))
        await wal.close()  # already failed: releases resources without raising again

    run(scenario)
