"""Write-ahead log with group commit.

Every accepted batch becomes one framed record (``<II`` length and CRC-32, then the payload)
appended to the active segment ``seg-{seq:012d}.wal``. A request is acknowledged only once
its record is written and fsync'd. Concurrent requests share one fsync: a single committer
task takes whatever has been buffered, writes and syncs it in one dedicated thread, then
resolves every waiter the round covered. Sealed segments are handed to the compactor and
never written again.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import struct
import time
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TypeVar, TypeVarTuple

from ingest_api.storage.rows import StoredEvent, WalRecord, decode_record

logger = logging.getLogger(__name__)

_T = TypeVar("_T")
_Ts = TypeVarTuple("_Ts")

RECORD_HEADER = struct.Struct("<II")
_SEGMENT_NAME = re.compile(r"^seg-(\d{12})\.wal$")
# Sequence numbers name the Parquet parts, so they must never be reused, even after every
# segment has been compacted and deleted; this file remembers the highest one ever allocated.
_HIGH_WATER_NAME = "last-seq"


class WalFailure(Exception):  # noqa: N818 - the name is part of the server's contract
    """The WAL could not write or fsync; nothing after this is acknowledged."""


@dataclass(frozen=True, slots=True)
class RecoveredSegment:
    path: Path
    records: list[WalRecord]

    @property
    def events(self) -> list[StoredEvent]:
        return [event for record in self.records for event in record.events]


# ---------------------------------------------------------------------------------------------
# Segment files: naming, framing and scanning (shared with the compactor)
# ---------------------------------------------------------------------------------------------


def segment_name(seq: int) -> str:
    return f"seg-{seq:012d}.wal"


def segment_seq(path: Path) -> int:
    match = _SEGMENT_NAME.match(path.name)
    if match is None:
        raise ValueError(f"not a WAL segment name: {path.name}")
    return int(match.group(1))


def list_segments(wal_dir: Path) -> list[Path]:
    """Segment files in ``wal_dir`` in sequence order (empty if the directory is missing)."""
    if not wal_dir.is_dir():
        return []
    found = [entry for entry in wal_dir.iterdir() if _SEGMENT_NAME.match(entry.name)]
    return sorted(found, key=segment_seq)


def frame(payload: bytes) -> bytes:
    return RECORD_HEADER.pack(len(payload), zlib.crc32(payload)) + payload


def iter_records(data: bytes) -> Iterator[tuple[bytes, int]]:
    """Yield ``(payload, end_offset)`` for each valid record, stopping at the first bad one.

    Bad means a short header, a short payload, a CRC mismatch, or a zero length: appends never
    write empty payloads, and a zero-filled tail (left by some filesystems after a crash)
    would otherwise parse as an endless run of valid empty records.
    """
    view = memoryview(data)
    offset = 0
    header_size = RECORD_HEADER.size
    while offset + header_size <= len(view):
        length, crc = RECORD_HEADER.unpack_from(view, offset)
        start = offset + header_size
        end = start + length
        if length == 0 or end > len(view):
            return
        payload = bytes(view[start:end])
        if zlib.crc32(payload) != crc:
            return
        offset = end
        yield payload, offset


def read_segment(path: Path) -> tuple[list[WalRecord], int, int]:
    """Decode a segment's valid records: ``(records, valid_length, file_length)``."""
    data = path.read_bytes()
    records: list[WalRecord] = []
    valid_length = 0
    for payload, end in iter_records(data):
        records.append(decode_record(payload))
        valid_length = end
    return records, valid_length, len(data)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _datasync(fd: int) -> None:
    # fdatasync also persists the file size, which is all an append needs.
    if hasattr(os, "fdatasync"):
        os.fdatasync(fd)
    else:  # pragma: no cover - platforms without fdatasync
        os.fsync(fd)


def _truncate(path: Path, length: int) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.ftruncate(fd, length)
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes | bytearray) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


# ---------------------------------------------------------------------------------------------
# The log
# ---------------------------------------------------------------------------------------------


class WriteAheadLog:
    def __init__(
        self,
        wal_dir: Path,
        *,
        segment_max_bytes: int,
        segment_max_age: timedelta,
        fsync: bool = True,
        on_sealed: Callable[[Path], None],
        on_commit: Callable[[float], None] | None = None,
    ) -> None:
        """``on_commit(seconds)`` is told each write+fsync round's latency, for metrics."""
        self._dir = wal_dir
        self._max_bytes = segment_max_bytes
        self._max_age = segment_max_age.total_seconds()
        self._fsync = fsync
        self._on_sealed = on_sealed
        self._on_commit = on_commit

        self._buffer = bytearray()
        self._last_ticket = 0
        self._committed_ticket = 0
        # (ticket, future); not sorted, because a task may wait on an older ticket after a
        # newer one was appended. Each commit round partitions the list once.
        self._waiters: list[tuple[int, asyncio.Future[int]]] = []
        # The segment the newest commit round wrote to (records are never split across two).
        self._committed_seq = 0

        self._fd = -1
        self._seq = 0
        # The segment the records now in the buffer will be written to: a seal is decided
        # when a round takes the buffer, so a record's segment is known when it is appended.
        self._buffer_seq = 0
        self._active_path: Path | None = None
        self._active_size = 0
        self._age_timer: asyncio.TimerHandle | None = None
        self._age_seal_due = False

        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake = asyncio.Event()
        self._executor: ThreadPoolExecutor | None = None
        self._committer: asyncio.Task[None] | None = None
        self._closing = False
        self._failure: BaseException | None = None

        self.commit_rounds = 0
        self._last_fsync_seconds = 0.0

    # -- properties ---------------------------------------------------------------------------

    @property
    def wal_bytes(self) -> int:
        total = 0
        for path in list_segments(self._dir):
            try:
                total += path.stat().st_size
            except FileNotFoundError:  # compacted between listing and stat
                continue
        return total

    @property
    def last_fsync_seconds(self) -> float:
        return self._last_fsync_seconds

    @property
    def next_seq(self) -> int:
        """The segment the next appended record will be written to (``wait_durable`` returns
        the same number for its ticket)."""
        return self._buffer_seq

    @property
    def failed(self) -> bool:
        return self._failure is not None

    @property
    def active_segment(self) -> Path | None:
        return self._active_path

    # -- recovery -----------------------------------------------------------------------------

    def recover(self) -> list[RecoveredSegment]:
        """Read every existing segment, cutting a torn or corrupt tail; call before start()."""
        recovered = []
        for path in list_segments(self._dir):
            try:
                records, valid_length, file_length = read_segment(path)
            except FileNotFoundError:
                continue  # compacted and deleted since it was listed
            if valid_length < file_length:
                logger.warning(
                    "truncating torn tail of %s: keeping %d of %d bytes",
                    path,
                    valid_length,
                    file_length,
                )
                _truncate(path, valid_length)
            recovered.append(RecoveredSegment(path=path, records=records))
        return recovered

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self, *, seq_floor: int = 0) -> None:
        """``seq_floor``: the highest segment number already used elsewhere (published
        Parquet parts are named after their segment), for when ``last-seq`` was lost."""
        if self._loop is not None:
            raise RuntimeError("WriteAheadLog.start() called twice")
        self._loop = asyncio.get_running_loop()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="wal-writer")
        first_seq = max(await self._run_io(self._first_free_seq), seq_floor + 1)
        await self._run_io(self._open_segment, first_seq)
        self._buffer_seq = first_seq
        self._committer = asyncio.create_task(self._run_committer(), name="wal-committer")

    async def close(self) -> None:
        """Commit what is buffered, then seal the active segment.

        Raises WalFailure if that final commit or seal fails; a WAL that had already failed
        just releases its resources.
        """
        if self._loop is None or self._closing:
            return
        self._closing = True
        already_failed = self.failed
        self._wake.set()
        if self._committer is not None:
            await self._committer
        try:
            if not self.failed:
                await self._seal_active(open_next=False)
        except Exception as exc:
            self._fail(exc)
        finally:
            self._cancel_age_timer()
            await self._run_io(self._close_fd)
            assert self._executor is not None
            self._executor.shutdown(wait=True)
        if self._failure is not None and not already_failed:
            raise WalFailure("WAL close failed") from self._failure

    # -- hot path -----------------------------------------------------------------------------

    def append(self, payload: bytes) -> int:
        """Buffer one record and return its ticket for wait_durable().

        Once the WAL has failed the record is dropped; waiting on its ticket raises WalFailure.
        """
        if self._committer is None or self._closing:
            raise RuntimeError("WriteAheadLog is not running")
        self._last_ticket += 1
        if self._failure is None:
            self._buffer += frame(payload)
            self._wake.set()
        return self._last_ticket

    def durable_ticket_for_now(self) -> int:
        return self._last_ticket

    async def wait_durable(self, ticket: int) -> int:
        """Waits until the record of ``ticket`` is fsync'd; returns the number of the segment
        it was written to (for a ticket already durable on entry: the newest commit's)."""
        if self._failure is not None:
            raise WalFailure("WAL is failed") from self._failure
        if ticket <= self._committed_ticket:
            return self._committed_seq
        if ticket > self._last_ticket:
            raise ValueError(f"ticket {ticket} was never issued")
        assert self._loop is not None
        future: asyncio.Future[int] = self._loop.create_future()
        self._waiters.append((ticket, future))
        return await future

    # -- committer ----------------------------------------------------------------------------

    async def _run_committer(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                if await self._commit_round():
                    await self._seal_active(open_next=True)
            except Exception as exc:
                # Whatever went wrong, the file's state is unknown: refuse to acknowledge more.
                self._fail(exc)
                return
            if self._closing and not self._buffer:
                return

    async def _commit_round(self) -> bool:
        """Writes and syncs the buffer; returns whether the segment is to be sealed now."""
        data, self._buffer = self._buffer, bytearray()
        covered = self._last_ticket
        seal = self._seal_due(len(data))
        if seal:
            self._buffer_seq = self._seq + 1  # what is appended from now on goes to the next
        if data:
            started = time.perf_counter()
            await self._run_io(self._write_and_sync, data)
            self._last_fsync_seconds = time.perf_counter() - started
            self.commit_rounds += 1
            self._report_commit()
            if self._active_size == 0:
                self._arm_age_timer()
            self._active_size += len(data)
        self._committed_ticket = covered
        self._committed_seq = self._seq
        self._resolve_waiters(covered)
        return seal

    def _report_commit(self) -> None:
        if self._on_commit is None:
            return
        try:
            self._on_commit(self._last_fsync_seconds)
        except Exception:
            # A metrics hook must never turn into a WAL failure.
            logger.exception("on_commit callback failed")

    def _resolve_waiters(self, covered: int) -> None:
        still_waiting = []
        for ticket, future in self._waiters:
            if ticket > covered:
                still_waiting.append((ticket, future))
            elif not future.done():  # the waiting task may have been cancelled
                future.set_result(self._committed_seq)
        self._waiters = still_waiting

    def _fail(self, exc: BaseException) -> None:
        logger.error("WAL write failed; nothing more will be acknowledged", exc_info=exc)
        self._failure = exc
        self._buffer = bytearray()
        waiters, self._waiters = self._waiters, []
        for _, future in waiters:
            if not future.done():
                future.set_exception(WalFailure("WAL write or fsync failed"))

    # -- rotation -----------------------------------------------------------------------------

    def _seal_due(self, incoming: int) -> bool:
        """Whether the active segment is sealed once ``incoming`` more bytes are written."""
        size = self._active_size + incoming
        if size == 0:
            return False
        return size >= self._max_bytes or self._age_seal_due

    def _arm_age_timer(self) -> None:
        # Measured from the first write, not from creation: an idle empty segment must not be
        # sealed the moment it receives its first record.
        assert self._loop is not None
        self._age_timer = self._loop.call_later(self._max_age, self._on_age_due)

    def _cancel_age_timer(self) -> None:
        if self._age_timer is not None:
            self._age_timer.cancel()
            self._age_timer = None
        self._age_seal_due = False

    def _on_age_due(self) -> None:
        self._age_timer = None
        self._age_seal_due = True
        self._wake.set()

    async def _seal_active(self, *, open_next: bool) -> None:
        sealed = self._active_path
        self._cancel_age_timer()
        await self._run_io(self._seal_and_maybe_open, open_next)
        if sealed is None:
            return
        try:
            self._on_sealed(sealed)
        except Exception:
            # The segment is safely on disk and will be found by recover() after a restart.
            logger.exception("on_sealed callback failed for %s", sealed)

    # -- blocking file operations, only ever run on the single writer thread -----------------

    async def _run_io(self, func: Callable[[*_Ts], _T], *args: *_Ts) -> _T:
        assert self._loop is not None
        return await self._loop.run_in_executor(self._executor, func, *args)

    def _first_free_seq(self) -> int:
        if not self._dir.is_dir():
            self._dir.mkdir(parents=True)
            if self._fsync:
                fsync_dir(self._dir.parent)
        highest = max((segment_seq(path) for path in list_segments(self._dir)), default=0)
        return max(highest, self._read_high_water()) + 1

    def _read_high_water(self) -> int:
        try:
            return int((self._dir / _HIGH_WATER_NAME).read_text().strip())
        except (FileNotFoundError, ValueError):
            return 0

    def _write_high_water(self, seq: int) -> None:
        target = self._dir / _HIGH_WATER_NAME
        temp = target.with_name(f".{_HIGH_WATER_NAME}.tmp")
        with temp.open("w") as handle:
            handle.write(f"{seq}\n")
            handle.flush()
            if self._fsync:
                os.fsync(handle.fileno())
        # The directory fsync after the segment is created makes this rename durable too.
        os.replace(temp, target)

    def _open_segment(self, seq: int) -> None:
        path = self._dir / segment_name(seq)
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)
        self._write_high_water(seq)
        if self._fsync:
            fsync_dir(self._dir)
        self._seq = seq
        self._active_path = path
        self._active_size = 0

    def _write_and_sync(self, data: bytearray) -> None:
        _write_all(self._fd, data)
        if self._fsync:
            _datasync(self._fd)

    def _seal_and_maybe_open(self, open_next: bool) -> None:
        if self._fsync:
            os.fsync(self._fd)
        self._close_fd()
        if open_next:
            self._open_segment(self._seq + 1)
        else:
            self._active_path = None

    def _close_fd(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
