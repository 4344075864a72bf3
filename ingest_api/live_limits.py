"""Keeps the limit engine current in the ingest process: at start-up and while serving.

Start-up (``rebuild``): the base is the current publication; on top of it go the events on
disk that it did not count: Parquet parts it had not loaded, rows of loaded parts received
after its as-of moment, and the WAL segments being recovered (their parts are not published
yet). So usage, and with it every hard limit, survives a restart.

Serving (``watch``): twice a second, off the event loop, it reads which customers' control rows
changed (their terms are reloaded on next use, their spend thresholds at once, so a budget set
from another process bites within a second), whether a new publication appeared (it becomes
the base), and records the notices that crossed thresholds raised.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq

from ingest_api.storage.compactor import part_name, part_seq, partition_dir
from ingest_api.storage.rows import StoredEvent
from ingest_api.storage.wal import RecoveredSegment, segment_seq
from tollgate.billing.catalogue.model import Catalogue, Interval
from tollgate.limits.change_feed import ChangeFeed
from tollgate.limits.engine import LimitEngine, MeteredEvent
from tollgate.limits.published import current_publication, read_published_usage
from tollgate.warehouse.reader import PublishedMarts

log = logging.getLogger(__name__)

POLL_SECONDS = 0.5
_COLUMNS = [
    "customer_id",
    "event_type",
    "unit",
    "quantity",
    "timestamp",
    "received_at",
    "properties",
]
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class LiveLimits:
    def __init__(
        self,
        engine: LimitEngine,
        marts: PublishedMarts,
        feed: ChangeFeed,
        catalogue: Catalogue,
        events_dir: Path,
    ) -> None:
        self.engine = engine
        self._events_dir = events_dir
        self._marts = marts
        self._feed = feed
        self._publication: str | None = None
        self._horizon = _longest_window(catalogue)
        self._task: asyncio.Task[None] | None = None

    # -- start-up ----------------------------------------------------------------------------

    def rebuild(self, recovered: Sequence[RecoveredSegment], customer_id: str | None = None) -> int:
        """Counts what the current publication lacks; returns the number of events counted.

        Call before the recovered segments are compacted: their parts are skipped here and
        their events taken from the WAL instead, so none is counted twice. ``customer_id``
        counts that customer only: the dashboards show one customer, and rebuilding every
        customer's usage for that costs seconds on a large data set.
        """
        self._feed.poll()  # sets the mark: later polls report changes made after this
        self._publication = current_publication(self._marts)
        published = read_published_usage(self._marts, customer_id)
        self.engine.use_publication(published)
        now = datetime.now(UTC)
        recovering = {segment_seq(segment.path) for segment in recovered}
        earliest = (now - self._horizon).date()
        parts = [
            (day, seq, path)
            for day, seq, path in _parts(self._events_dir)
            if seq not in recovering and day >= earliest
        ]
        rows: list[tuple[MeteredEvent, int, datetime]] = []
        for day, seq, path in parts:
            if (day.toordinal(), seq) not in published.loaded:
                rows.extend(_read_part(path, seq, None, customer_id))
        as_of = published.as_of
        if as_of is not None:
            rows.extend(_received_after(parts, published.loaded, as_of, customer_id))
        for segment in recovered:
            seq = segment_seq(segment.path)
            for record in segment.records:
                received_at = _EPOCH + timedelta(microseconds=record.received_at_us)
                rows.extend(
                    (_metered(event), seq, received_at)
                    for event in record.events
                    if customer_id is None or event.customer_id == customer_id
                )
        self.engine.terms.preload(now, None if customer_id is None else [customer_id])
        self.engine.load_spend_thresholds(None if customer_id is None else [customer_id])
        for event, seq, received_at in rows:
            self.engine.count_stored(event, seq, received_at)
        queued = self.engine.queue_crossed_by_live_usage()
        log.info(
            "live usage rebuilt: %d events since the publication %s; %d notices to record",
            len(rows),
            self._publication or "(none yet)",
            queued,
        )
        return len(rows)

    # -- serving -----------------------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.create_task(self._watch())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        # Notices not yet recorded are found again by the next start's rebuild.
        with contextlib.suppress(Exception):
            await asyncio.to_thread(self.engine.raise_pending)

    async def refresh(self) -> None:
        """One round of ``watch``: control changes, a new publication, pending notices."""
        changed = await asyncio.to_thread(self._feed.poll)
        if changed:
            thresholds = await asyncio.to_thread(self.engine.read_spend_thresholds, changed)
            self.engine.forget_customers(changed)
            self.engine.use_spend_thresholds(thresholds, changed)
        name = await asyncio.to_thread(current_publication, self._marts)
        if name != self._publication and name is not None:
            published = await asyncio.to_thread(read_published_usage, self._marts)
            # Straddling parts are sealed and loaded, so nothing new lands in them meanwhile.
            straddling = self.engine.straddling(published)
            later = await asyncio.to_thread(self._received_after, straddling, published.as_of)
            self.engine.use_publication(published, later)
            self._publication = name
            # The new base may have carried a watched customer's spend past a threshold.
            self.engine.queue_reached_spend()
        if self.engine.pending_notices():
            await asyncio.to_thread(self.engine.raise_pending)

    def _received_after(
        self, parts: set[tuple[int, int]], as_of: datetime | None
    ) -> list[tuple[MeteredEvent, int, datetime]]:
        rows: list[tuple[MeteredEvent, int, datetime]] = []
        for ordinal, seq in sorted(parts):
            path = partition_dir(self._events_dir, date.fromordinal(ordinal)) / part_name(seq)
            rows.extend(_read_part(path, seq, as_of))
        return rows

    async def _watch(self) -> None:
        while True:
            try:
                await self.refresh()
            except Exception:
                # The control database or a publication may be unreachable for a moment; the
                # terms and base already held stay in force meanwhile.
                log.exception("live limits: refresh failed; retrying")
            await asyncio.sleep(POLL_SECONDS)


def _longest_window(catalogue: Catalogue) -> timedelta:
    """How far back an event can still count in a current window or cycle."""
    yearly = any(plan.interval is Interval.YEAR for plan in catalogue.plans.values())
    return timedelta(days=367 if yearly else 32)


def _parts(events_dir: Path) -> Iterator[tuple[date, int, Path]]:
    for path in events_dir.glob("date=*/part-*.parquet"):
        try:
            day = date.fromisoformat(path.parent.name.removeprefix("date="))
        except ValueError:
            continue
        yield day, part_seq(path), path


def _received_after(
    parts: list[tuple[date, int, Path]],
    loaded: frozenset[tuple[int, int]],
    as_of: datetime,
    customer_id: str | None = None,
) -> Iterator[tuple[MeteredEvent, int, datetime]]:
    """Rows of loaded parts received after ``as_of``.

    Segments are written one after another, so every row of a segment was received before any
    row of the next: going down from the newest, the first segment whose parts all end by
    ``as_of`` ends the search, and only a few footers are read.
    """
    by_seq: dict[int, list[Path]] = {}
    for day, seq, path in parts:
        if (day.toordinal(), seq) in loaded:
            by_seq.setdefault(seq, []).append(path)
    for seq in sorted(by_seq, reverse=True):
        newest = [_newest_receipt(path) for path in by_seq[seq]]
        if all(moment is not None and moment <= as_of for moment in newest):
            return
        for path in by_seq[seq]:
            yield from _read_part(path, seq, as_of, customer_id)


def _newest_receipt(path: Path) -> datetime | None:
    metadata = pq.ParquetFile(path).metadata
    column = metadata.schema.to_arrow_schema().get_field_index("received_at")
    newest: datetime | None = None
    for group in range(metadata.num_row_groups):
        statistics = metadata.row_group(group).column(column).statistics
        if statistics is None or not statistics.has_min_max:
            return None
        value = statistics.max
        moment = value if isinstance(value, datetime) else None
        if moment is None:
            return None
        moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        newest = moment if newest is None else max(newest, moment)
    return newest


def _read_part(
    path: Path, seq: int, after: datetime | None, customer_id: str | None = None
) -> Iterator[tuple[MeteredEvent, int, datetime]]:
    filters: list[tuple[str, str, object]] = []
    if after is not None:
        filters.append(("received_at", ">", after))
    if customer_id is not None:
        filters.append(("customer_id", "=", customer_id))
    table = pq.read_table(path, columns=_COLUMNS, filters=filters or None)
    for row in table.to_pylist():
        received_at = row["received_at"]
        yield (
            MeteredEvent(
                row["customer_id"],
                row["event_type"],
                row["unit"],
                row["quantity"],
                row["timestamp"],
                dict(row["properties"]),
            ),
            seq,
            received_at,
        )


def _metered(event: StoredEvent) -> MeteredEvent:
    return MeteredEvent(
        event.customer_id,
        event.event_type,
        event.unit,
        Decimal(event.quantity),
        event.timestamp,
        event.properties,
    )
