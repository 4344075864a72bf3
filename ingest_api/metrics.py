"""Prometheus metrics of one ingest server (own registry, so test apps don't share counters)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_LATENCY_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1)


@dataclass
class IngestMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.accepted = Counter(
            "tollgate_events_accepted", "Events made durable and counted.", registry=r
        )
        self.duplicates = Counter(
            "tollgate_events_duplicate",
            "Events acknowledged as repeats of an accepted event.",
            registry=r,
        )
        self.rejected = Counter(
            "tollgate_events_rejected",
            "Events refused, by the level the problem was found at.",
            ["level"],
            registry=r,
        )
        self.requests_failed = Counter(
            "tollgate_requests_failed",
            "Requests refused as a whole, by HTTP status.",
            ["status"],
            registry=r,
        )
        self.wal_flush_seconds = Histogram(
            "tollgate_wal_flush_seconds",
            "Write + fsync time of one group commit.",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.parquet_flush_seconds = Histogram(
            "tollgate_parquet_flush_seconds",
            "Time to compact one WAL segment into Parquet.",
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=r,
        )
        self.parquet_files = Counter(
            "tollgate_parquet_files_published", "Parquet files published.", registry=r
        )
        self._wal_bytes = Gauge("tollgate_wal_bytes", "Bytes in WAL segments.", registry=r)
        self._dedup_entries = Gauge(
            "tollgate_dedup_entries", "Keys held by the dedup index.", registry=r
        )

    def bind(self, wal_bytes: Callable[[], float], dedup_entries: Callable[[], float]) -> None:
        self._wal_bytes.set_function(wal_bytes)
        self._dedup_entries.set_function(dedup_entries)
