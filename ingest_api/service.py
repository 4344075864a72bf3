"""The ingest service: validated events -> dedup -> write-ahead log -> acknowledgement.

Owns the single event loop's view of durability: an event is counted as accepted only after
the WAL group commit that contains it has been fsync'd. A duplicate is acknowledged only after
everything appended before it is durable, so "duplicate" never points at an event a crash
could still lose.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Literal

import msgspec

from ingest_api.events.errors import Rejection, RequestError
from ingest_api.events.model import UsageEvent
from ingest_api.events.parsing import EventParser, ParsedBatch
from ingest_api.live_limits import LiveLimits
from ingest_api.metrics import IngestMetrics
from ingest_api.settings import IngestSettings
from ingest_api.storage.compactor import Compactor, highest_published_seq
from ingest_api.storage.dedup import DedupIndex
from ingest_api.storage.journal import Attempt, AttemptJournal
from ingest_api.storage.rows import encode_record, to_micros
from ingest_api.storage.wal import WalFailure, WriteAheadLog
from tollgate.limits.engine import Admission

log = logging.getLogger(__name__)


class LimitNotice(msgspec.Struct):
    """An event accepted past a soft limit: stored and billed, and the customer notified."""

    index: int  # position in the batch
    event_id: str
    customer_id: str
    feature: str
    code: str  # "soft_limit_exceeded"
    message: str  # the usage now, the limit and when it resets


class IngestResult(msgspec.Struct, omit_defaults=True):
    accepted: int
    duplicates: int
    rejected: list[Rejection]
    # Accepted past a soft limit (hard limits reject, with code "limit_exceeded").
    notices: list[LimitNotice] = msgspec.field(default_factory=list)

    @property
    def status(self) -> int:
        if not self.rejected:
            return 200
        return 207 if self.accepted or self.duplicates else 422


class EventStatus(msgspec.Struct):
    event_id: str
    customer_id: str
    status: Literal["accepted", "rejected", "unknown"]
    explanation: str
    event_date: date | None
    attempts: list[Attempt]


@dataclass
class _Outcome:
    accepted: int = 0
    duplicates: int = 0


STORAGE_UNAVAILABLE = RequestError(
    503,
    "storage_unavailable",
    "The event log could not be written, so nothing in this request was acknowledged.",
    "Retry later with the same event_ids; the operator should check the data disk.",
)


class IngestService:
    def __init__(
        self,
        settings: IngestSettings,
        metrics: IngestMetrics | None = None,
        live: LiveLimits | None = None,
    ) -> None:
        self.settings = settings
        # None: limits are neither enforced nor counted live (TOLLGATE_ENFORCE_LIMITS=false).
        self.live = live
        self.metrics = metrics or IngestMetrics()
        self._parser = EventParser(settings)
        self._dedup = DedupIndex(settings.effective_dedup_window)
        self._journal = AttemptJournal(settings.journal_path)
        self._compactor = Compactor(settings.events_dir, on_published=self._published)
        self._wal = WriteAheadLog(
            settings.wal_dir,
            segment_max_bytes=settings.wal_segment_max_bytes,
            segment_max_age=settings.wal_segment_max_age,
            fsync=settings.wal_fsync,
            on_sealed=self._compactor.submit,
            on_commit=self.metrics.wal_flush_seconds.observe,
        )
        self._expiry_task: asyncio.Task[None] | None = None
        self._started = False
        self.metrics.bind(lambda: self._wal.wal_bytes, lambda: len(self._dedup))

    @property
    def ready(self) -> bool:
        return self._started and not self._wal.failed

    async def start(self) -> None:
        today = datetime.now(UTC).date()
        for directory in (self.settings.wal_dir, self.settings.events_dir):
            directory.mkdir(parents=True, exist_ok=True)
        # The WAL before Parquet: a segment compacted in between is then read twice (harmless),
        # never missed, because compaction publishes Parquet before deleting the segment.
        recovered = self._wal.recover()
        loaded = sum(self._dedup.load_events(segment.events) for segment in recovered)
        loaded += self._dedup.load_parquet(self.settings.events_dir, today)
        log.info(
            "dedup index rebuilt with %d keys; %d WAL segments to replay", loaded, len(recovered)
        )
        if self.live is not None:
            # Before compaction starts: the recovered segments' events count from the WAL.
            self.live.rebuild(recovered)
        for segment in recovered:
            self._compactor.submit(segment.path)
        self._journal.open()
        await self._wal.start(seq_floor=highest_published_seq(self.settings.events_dir))
        self._expiry_task = asyncio.create_task(self._expire_daily())
        if self.live is not None:
            self.live.start()
        self._started = True

    async def stop(self) -> None:
        self._started = False
        if self.live is not None:
            await self.live.stop()
        if self._expiry_task is not None:
            self._expiry_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._expiry_task
        try:
            await self._wal.close()
        finally:
            try:
                await self._compactor.close()
            finally:
                self._journal.close()

    async def ingest(self, body: bytes, content_type: str | None) -> IngestResult:
        if not self.ready:
            raise STORAGE_UNAVAILABLE
        now = datetime.now(UTC)
        try:
            parsed = self._parser.parse(body, content_type, now)
        except RequestError as error:
            self.metrics.requests_failed.labels(str(error.status)).inc()
            raise
        admitted = self._dedup.admit([event for _, event in parsed.events])
        new, rejections, notices, admission = self._enforce(parsed, admitted.new, now)
        # No await between admitting and appending: the record goes to the segment admitted for.
        ticket = (
            self._wal.append(encode_record(new, to_micros(now)))
            if new
            else self._wal.durable_ticket_for_now()
        )
        try:
            await self._wal.wait_durable(ticket)
        except WalFailure:
            self._dedup.forget(new)
            if admission is not None and self.live is not None:
                self.live.engine.release(admission)
            self.metrics.requests_failed.labels("503").inc()
            raise STORAGE_UNAVAILABLE from None
        if admission is not None and self.live is not None:
            self.live.engine.commit(admission)
        if admitted.repeats or rejections:
            received = now.isoformat()
            self._journal.record(
                [
                    Attempt(e.event_id, e.customer_id, "duplicate", received)
                    for e in admitted.repeats
                ]
                + self._rejection_attempts(rejections, received)
            )
        self.metrics.accepted.inc(len(new))
        self.metrics.duplicates.inc(len(admitted.repeats))
        if parsed.rejections:
            self.metrics.rejected.labels("event").inc(len(parsed.rejections))
        if len(rejections) > len(parsed.rejections):
            self.metrics.rejected.labels("limit").inc(len(rejections) - len(parsed.rejections))
        return IngestResult(len(new), len(admitted.repeats), rejections, notices)

    def _enforce(
        self, parsed: ParsedBatch, new: list[UsageEvent], now: datetime
    ) -> tuple[list[UsageEvent], list[Rejection], list[LimitNotice], Admission | None]:
        """Refuses the new events that would pass a hard limit; notes soft limits passed."""
        if self.live is None or not new:
            return new, parsed.rejections, [], None
        admission = self.live.engine.admit(new, self._wal.next_seq, now)
        if not admission.refused and not admission.notices:
            return new, parsed.rejections, [], admission
        position = {id(event): index for index, event in parsed.events}
        notices = [
            LimitNotice(
                position[id(new[n.index])],
                new[n.index].event_id,
                new[n.index].customer_id,
                n.feature,
                "soft_limit_exceeded",
                n.message,
            )
            for n in admission.notices
        ]
        if not admission.refused:
            return new, parsed.rejections, notices, admission
        refused = [new[r.index] for r in admission.refused]
        # Never stored, so never a duplicate: a retry after the reset must be judged afresh.
        self._dedup.forget(refused)
        limit_rejections = [
            Rejection(
                position[id(new[r.index])],
                new[r.index].event_id,
                new[r.index].customer_id,
                "quantity",
                r.reason,
                r.code,  # limit_exceeded, or budget_exceeded (the spend budget)
            )
            for r in admission.refused
        ]
        skip = admission.refused_indexes
        kept = [event for index, event in enumerate(new) if index not in skip]
        rejections = sorted([*parsed.rejections, *limit_rejections], key=lambda r: r.index)
        return kept, rejections, notices, admission

    async def status(self, event_id: str, customer_id: str) -> EventStatus:
        # Speak only of durable events: an admitted event is "accepted" once the commit
        # covering it is fsync'd (at most one group commit away); a failed write is forgotten.
        with contextlib.suppress(WalFailure):
            await self._wal.wait_durable(self._wal.durable_ticket_for_now())
        event_date = self._dedup.event_date(DedupIndex.key(customer_id, event_id))
        attempts = self._journal.attempts(event_id, customer_id)
        window = self.settings.effective_dedup_window.days
        if event_date is not None:
            repeats = sum(a.outcome == "duplicate" for a in attempts)
            return EventStatus(
                event_id,
                customer_id,
                "accepted",
                f"Accepted and counted once for {event_date.isoformat()}"
                + (
                    f"; {repeats} later deliveries were duplicates and not counted."
                    if repeats
                    else "."
                ),
                event_date,
                attempts,
            )
        if any(a.outcome == "rejected" for a in attempts):
            last = next(a for a in reversed(attempts) if a.outcome == "rejected")
            return EventStatus(
                event_id,
                customer_id,
                "rejected",
                f"Rejected and not counted: {last.field}: {last.reason}",
                None,
                attempts,
            )
        return EventStatus(
            event_id,
            customer_id,
            "unknown",
            "No event with this event_id and customer_id was accepted or rejected in the last "
            f"{window} days (the dedup window). Check both ids, and that the request got a 2xx.",
            None,
            attempts,
        )

    @staticmethod
    def _rejection_attempts(rejections: list[Rejection], received: str) -> list[Attempt]:
        return [
            Attempt(r.event_id, r.customer_id, "rejected", received, r.field, r.reason)
            for r in rejections
            if r.event_id
        ]

    def _published(self, paths: list[Path], seconds: float) -> None:
        self.metrics.parquet_files.inc(len(paths))
        self.metrics.parquet_flush_seconds.observe(seconds)

    async def _expire_daily(self) -> None:
        # The cutoff moves once per UTC day; checking hourly catches the change without a
        # full scan of the index every hour.
        expired_for = datetime.now(UTC).date()
        while True:
            await asyncio.sleep(3600)
            today = datetime.now(UTC).date()
            if today == expired_for:
                continue
            expired_for = today
            dropped = self._dedup.expire(today)
            if dropped:
                log.info("dedup index: expired %d keys older than the window", dropped)
