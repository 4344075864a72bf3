"""Which (customer_id, event_id) pairs were already accepted within the dedup window.

Held entirely in memory, so the layout is chosen for size: one dict from a 128-bit hash of
the pair to the event's UTC date as an ordinal, with one shared int object per distinct
date, so an entry costs only its key object and its dict slot.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import xxhash

from ingest_api.events.model import UsageEvent
from ingest_api.storage.rows import StoredEvent

_PARTITION_PREFIX = "date="
_KEY_COLUMNS = ["customer_id", "event_id"]

_xxh3_128: Callable[[bytes], int] = xxhash.xxh3_128_intdigest


@dataclass(slots=True)
class Admitted:
    new: list[UsageEvent]  # now remembered; to be written
    repeats: list[UsageEvent]  # already accepted (or earlier in the same batch)


class DedupIndex:
    def __init__(self, window: timedelta) -> None:
        self._window = window
        self._entries: dict[int, int] = {}
        # Ordinals are far above the small-int cache, so without interning every entry
        # would carry its own 28-byte int.
        self._ordinals: dict[int, int] = {}

    @staticmethod
    def key(customer_id: str, event_id: str) -> int:
        return _xxh3_128(f"{customer_id}\x1f{event_id}".encode())

    def admit(self, events: Iterable[UsageEvent]) -> Admitted:
        """Remembers the events not seen before and sets apart the repeats.

        The ingest hot path: one loop with local names, the key computed inline exactly as in
        ``key`` (a test holds the two equal), because per-event method calls cost more here
        than the hashing.
        """
        entries, ordinals, hash_ = self._entries, self._ordinals, _xxh3_128
        admitted = Admitted([], [])
        new, repeats = admitted.new, admitted.repeats
        for event in events:
            key = hash_(f"{event.customer_id}\x1f{event.event_id}".encode())
            if key in entries:
                repeats.append(event)
                continue
            ordinal = event.timestamp.toordinal()
            entries[key] = ordinals.setdefault(ordinal, ordinal)
            new.append(event)
        return admitted

    def forget(self, events: Iterable[UsageEvent]) -> None:
        """Undo ``admit`` for events whose write failed, so a retry is not called a repeat."""
        for event in events:
            self.discard(self.key(event.customer_id, event.event_id))

    def __contains__(self, key: int) -> bool:
        return key in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def add(self, key: int, event_date: date) -> None:
        self._add_ordinal(key, event_date.toordinal())

    def discard(self, key: int) -> None:
        self._entries.pop(key, None)

    def event_date(self, key: int) -> date | None:
        ordinal = self._entries.get(key)
        return None if ordinal is None else date.fromordinal(ordinal)

    def expire(self, today: date) -> int:
        """Drop entries whose event date is before ``today - window``; returns how many."""
        cutoff = self._cutoff(today).toordinal()
        # Collecting keys first keeps the extra memory to the expiring share, where a rebuilt
        # dict would briefly double the whole index.
        expired = [key for key, ordinal in self._entries.items() if ordinal < cutoff]
        for key in expired:
            del self._entries[key]
        for ordinal in [ordinal for ordinal in self._ordinals if ordinal < cutoff]:
            del self._ordinals[ordinal]
        return len(expired)

    def load_events(self, events: Iterable[StoredEvent]) -> int:
        """Add events replayed from the WAL; returns how many were read."""
        count = 0
        key = self.key
        for event in events:
            self._add_ordinal(key(event.customer_id, event.event_id), event.timestamp.toordinal())
            count += 1
        return count

    def load_parquet(self, events_dir: Path, today: date) -> int:
        """Add every event in partitions still inside the window; returns rows read."""
        cutoff = self._cutoff(today)
        count = 0
        for day, directory in _partitions(events_dir):
            if day >= cutoff:
                count += self._load_partition(directory, day.toordinal())
        return count

    def _load_partition(self, directory: Path, ordinal: int) -> int:
        count = 0
        key = self.key
        for path in sorted(directory.rglob("*.parquet")):
            if path.name.startswith("."):
                continue
            for batch in pq.ParquetFile(path).iter_batches(columns=_KEY_COLUMNS):
                customers = batch.column(0).to_pylist()
                events = batch.column(1).to_pylist()
                for customer_id, event_id in zip(customers, events, strict=True):
                    self._add_ordinal(key(customer_id, event_id), ordinal)
                count += batch.num_rows
        return count

    def _add_ordinal(self, key: int, ordinal: int) -> None:
        self._entries[key] = self._ordinals.setdefault(ordinal, ordinal)

    def _cutoff(self, today: date) -> date:
        return today - self._window


def _partitions(events_dir: Path) -> list[tuple[date, Path]]:
    """``date=YYYY-MM-DD`` directories by date, judged by name alone; others are ignored."""
    if not events_dir.is_dir():
        return []
    found = []
    for entry in events_dir.iterdir():
        if not (entry.is_dir() and entry.name.startswith(_PARTITION_PREFIX)):
            continue
        try:
            day = date.fromisoformat(entry.name.removeprefix(_PARTITION_PREFIX))
        except ValueError:
            continue
        found.append((day, entry))
    return sorted(found)


def approx_bytes_per_entry(entries: int = 200_000) -> float:
    """Measured memory per entry (key object plus dict slot), spread over a 35-day window."""
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        index = DedupIndex(timedelta(days=35))
        first_day = date(2024, 1, 1).toordinal()
        for i in range(entries):
            index.add(
                DedupIndex.key(f"customer-{i % 997}", f"event-{i}"),
                date.fromordinal(first_day + i % 35),
            )
        used = tracemalloc.get_traced_memory()[0] - before
    finally:
        if not was_tracing:
            tracemalloc.stop()
    return used / entries
