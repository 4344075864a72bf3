"""Turn sealed WAL segments into date-partitioned Parquet files.

``compact_segment`` is the whole protocol and is safe to repeat after a crash at any point:
a segment's files are named after its sequence number, published with a hard link (which
never replaces an existing file) and the segment is deleted only once they are durable.
``Compactor`` runs it in a spawned worker process so Parquet encoding does not hold the GIL
the HTTP event loop needs.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import multiprocessing
import os
import re
import signal
import sys
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ingest_api.storage.rows import records_to_table
from ingest_api.storage.wal import fsync_dir, list_segments, read_segment, segment_seq

logger = logging.getLogger(__name__)

PARQUET_COMPRESSION = "zstd"


def partition_dir(events_dir: Path, day: date) -> Path:
    return events_dir / f"date={day.isoformat()}"


COMPACTOR_NICENESS = 10
_PART_NAME = re.compile(r"^part-\d{12}\.parquet$")
_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def part_name(seq: int) -> str:
    return f"part-{seq:012d}.parquet"


def part_seq(path: Path) -> int:
    """The sequence number a published part is named after (``part-000000000042.parquet``)."""
    return int(path.name[5:17])


def highest_published_seq(events_dir: Path) -> int:
    """The highest segment number any published part is named after (0 if none).

    A new segment must never take a number a published part already has: the compactor would
    keep the old part and drop the new segment's events as "already published".
    """
    parts = events_dir.glob("date=*/part-*.parquet")
    return max((part_seq(path) for path in parts if _PART_NAME.match(path.name)), default=0)


def compact_segment(segment: Path, events_dir: Path) -> list[Path]:
    """Publish a sealed segment's events as one Parquet part per UTC date, then delete it.

    Returns the published paths (including ones an earlier, interrupted attempt published).
    """
    seq = segment_seq(segment)
    records, _, _ = read_segment(segment)
    published: list[Path] = []
    if records:
        published = publish_events(records_to_table(records), events_dir, seq)
    segment.unlink()
    fsync_dir(segment.parent)
    return published


def publish_events(table: pa.Table, events_dir: Path, seq: int) -> list[Path]:
    """Publish ``table`` (EVENTS_SCHEMA) as part ``seq``: one file per UTC date, durably.

    The one Parquet writer: the compactor uses it for WAL segments, and tools that generate
    events (benchmarks, test scenarios) use it so that they produce exactly what the API does.
    """
    _ensure_dir(events_dir)
    published = [
        _publish(day_table, partition_dir(events_dir, day), seq)
        for day, day_table in _split_by_date(table)
    ]
    # A new date directory is only durable once its parent's entry is.
    fsync_dir(events_dir)
    return published


def compact_all(wal_dir: Path, events_dir: Path) -> list[Path]:
    """Compact every segment in ``wal_dir`` in order; for tests and offline tools only.

    Never run it against the WAL of a live server: it would compact the active segment.
    """
    published: list[Path] = []
    for segment in list_segments(wal_dir):
        published.extend(compact_segment(segment, events_dir))
    return published


def _split_by_date(table: pa.Table) -> list[tuple[date, pa.Table]]:
    # Casting a UTC timestamp to date32 floors to the UTC calendar day.
    days = table.column("timestamp").cast(pa.date32())
    return [
        (day, table.filter(pc.equal(days, pa.scalar(day, pa.date32()))))
        for day in sorted(pc.unique(days).to_pylist())
    ]


def _ensure_dir(path: Path) -> None:
    if path.is_dir():
        return
    _ensure_dir(path.parent)
    path.mkdir(exist_ok=True)
    fsync_dir(path.parent)


def _publish(table: pa.Table, directory: Path, seq: int) -> Path:
    directory.mkdir(exist_ok=True)
    final = directory / part_name(seq)
    _remove_stale_temps(directory, seq)
    if final.exists():
        # Published by an interrupted earlier attempt: files appear under their final name
        # only once complete and fsync'd, so it can be kept as is. The directory fsync below
        # covers a crash that came before that attempt's own.
        fsync_dir(directory)
        return final
    temp = directory / f".part-{seq:012d}-{uuid.uuid4().hex}.tmp"
    try:
        pq.write_table(table, temp, compression=PARQUET_COMPRESSION)
        _fsync_file(temp)
        # Linking never replaces: if another attempt won the race, its identical file stays.
        with contextlib.suppress(FileExistsError):
            os.link(temp, final)
    finally:
        temp.unlink(missing_ok=True)
    fsync_dir(directory)
    return final


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove_stale_temps(directory: Path, seq: int) -> None:
    # Left behind by a crash between writing a temp file and unlinking it. Only one
    # compactor works on a given events directory, so a temp for this seq is never live.
    for stale in directory.glob(f".part-{seq:012d}-*.tmp"):
        stale.unlink(missing_ok=True)


def _init_worker() -> None:
    """Acknowledging events comes first: under load the WAL absorbs the burst and the
    compactor catches up in the slack, instead of taking CPU from the request path.

    The worker also dies with the server: an orphan left by a crashed server would keep
    publishing while the restarted server rebuilds its dedup index and compacts the same
    segments.
    """
    os.nice(COMPACTOR_NICENESS)
    _die_with_parent()


def _die_with_parent() -> None:
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() == 1:  # the parent died before prctl took effect
        os._exit(1)


def _timed_compact(segment: Path, events_dir: Path) -> tuple[list[Path], float] | None:
    """Run in the worker: compact and time it; None if the segment is already gone."""
    if not segment.exists():
        return None
    started = time.perf_counter()
    published = compact_segment(segment, events_dir)
    return published, time.perf_counter() - started


class Compactor:
    """Compacts sealed segments in a single spawned worker process, retrying until it works."""

    def __init__(
        self,
        events_dir: Path,
        *,
        on_published: Callable[[list[Path], float], None] | None = None,
        initial_backoff: float = 0.5,
        max_backoff: float = 60.0,
    ) -> None:
        self._events_dir = events_dir
        self._on_published = on_published
        self._initial_backoff = initial_backoff
        self._max_backoff = max_backoff
        self._pool = self._new_pool()
        self._tasks: set[asyncio.Task[None]] = set()
        self.failures = 0

    @property
    def pending(self) -> int:
        return len(self._tasks)

    def submit(self, segment: Path) -> None:
        """Schedule a sealed segment; must be called from the event loop thread."""
        task = asyncio.get_running_loop().create_task(
            self._compact_until_done(segment), name=f"compact-{segment.name}"
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait until everything submitted so far (and while draining) is published."""
        while self._tasks:
            await asyncio.wait(set(self._tasks))

    async def close(self, drain_limit: float = 30.0) -> None:
        """Drain, but give up after ``drain_limit`` seconds (e.g. while compaction keeps failing):
        unfinished segments stay in the WAL and are compacted at the next start."""
        try:
            await asyncio.wait_for(self.drain(), drain_limit)
        except TimeoutError:
            logger.warning("stopping with %d segments not yet compacted", len(self._tasks))
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await asyncio.to_thread(self._pool.shutdown, wait=True, cancel_futures=True)

    async def _compact_until_done(self, segment: Path) -> None:
        delay = self._initial_backoff
        while True:
            try:
                outcome = await self._run(segment)
            except Exception:
                self.failures += 1
                logger.exception("compacting %s failed; retrying in %.1fs", segment, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._max_backoff)
                continue
            if outcome is None:
                # Submitted twice, or an attempt whose result was lost did finish.
                logger.warning("segment %s no longer exists; nothing to compact", segment)
            else:
                self._report(*outcome)
            return

    async def _run(self, segment: Path) -> tuple[list[Path], float] | None:
        loop = asyncio.get_running_loop()
        pool = self._pool
        try:
            return await loop.run_in_executor(pool, _timed_compact, segment, self._events_dir)
        except BrokenProcessPool:
            # The worker died (e.g. killed for memory); a broken pool never recovers by itself.
            if self._pool is pool:
                self._pool = self._new_pool()
                pool.shutdown(wait=False)
            raise

    def _report(self, published: list[Path], seconds: float) -> None:
        if self._on_published is None:
            return
        try:
            self._on_published(published, seconds)
        except Exception:
            logger.exception("on_published callback failed")

    @staticmethod
    def _new_pool() -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=1,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker,
        )
