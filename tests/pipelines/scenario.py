"""A billing scenario on real parts: a control database, events published by the ingest
API's own Parquet writer, and the Dagster jobs run in process against a temporary data dir."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pyarrow as pa

from ingest_api.storage.compactor import publish_events
from ingest_api.storage.rows import EVENTS_SCHEMA
from pipelines.runner import run_pipeline
from tollgate.control.database import open_control_database
from tollgate.control.service import ControlService
from tollgate.settings import TollgateSettings


@dataclass
class Event:
    customer_id: str
    event_type: str
    quantity: Decimal | int | str
    at: datetime
    event_id: str | None = None
    unit: str | None = None
    properties: dict[str, str] = field(default_factory=dict)


_UNITS = {"api_call": "call", "ai_tokens": "token", "storage": "GB"}


class Scenario:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        # Explicit paths: whatever TOLLGATE_* the test process has, this scenario is its own.
        self.settings = TollgateSettings(
            data_dir=data_dir, warehouse=data_dir / "warehouse.duckdb", plans_file=None
        )
        self.engine = open_control_database(self.settings.control_database_url)
        self._seq = 0
        self._ids = 0
        self.instance = dg.DagsterInstance.ephemeral()

    def control(self, at: datetime) -> ControlService:
        return ControlService(
            self.engine, self.settings.catalogue(), actor="test", clock=lambda: at
        )

    def publish(self, events: Sequence[Event], *, received_at: datetime) -> list[Path]:
        """One compactor flush: every event in ``events`` becomes visible in one new part."""
        self._seq += 1
        rows: dict[str, list[Any]] = {name: [] for name in EVENTS_SCHEMA.names}
        for event in events:
            self._ids += 1
            rows["event_id"].append(event.event_id or f"evt-{self._ids}")
            rows["customer_id"].append(event.customer_id)
            rows["event_type"].append(event.event_type)
            rows["feature"].append("test")
            rows["quantity"].append(Decimal(str(event.quantity)))
            rows["unit"].append(event.unit or _UNITS.get(event.event_type, "unit"))
            rows["timestamp"].append(event.at)
            rows["received_at"].append(received_at)
            rows["properties"].append(list(event.properties.items()))
            rows["source"].append("test")
        table = pa.Table.from_pydict(rows, schema=EVENTS_SCHEMA)
        return publish_events(table, self.settings.events_dir, self._seq)

    def run(
        self, as_of: datetime, *, close: bool = False, dates: Sequence[date] | None = None
    ) -> None:
        """Loads the given event dates (default: all), then refreshes (or closes) billing."""
        run_pipeline(self.settings, as_of, close=close, dates=dates, instance=self.instance)

    def query(self, sql: str, *params: object) -> list[tuple[Any, ...]]:
        with duckdb.connect(str(self.settings.warehouse_path), read_only=True) as con:
            return con.execute(sql, list(params)).fetchall()


def utc(year: int, month: int, day: int, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)
