"""Warehouse states for the tests: what the pipeline writes, and what readers must then see."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb

# One query over both tables of a generation: a mix of two publications would show here.
READ_GENERATION = (
    "select count(*), sum(amount), (select max(generation) from fct_generation) from fct_x"
)


@dataclass
class TickingClock:
    """Each reading is one second after the previous one: every publication gets its own name."""

    now: datetime = field(default_factory=lambda: datetime(2026, 1, 10, 9, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


def write_warehouse(warehouse: Path, sql: str, parameters: dict[str, object] | None = None) -> None:
    """Runs ``sql`` as the pipeline would: the warehouse open read-write, closed afterwards."""
    with duckdb.connect(str(warehouse)) as db:
        db.execute(sql, parameters)


def write_generation(warehouse: Path, generation: int) -> tuple[int, Decimal, int]:
    """Rewrites ``fct_x`` and ``fct_generation``; returns what ``READ_GENERATION`` must give."""
    rows = 100 + generation
    with duckdb.connect(str(warehouse)) as db:
        db.execute(
            "create or replace table fct_x as"
            " select i::bigint as id, (i * $generation)::decimal(38,18) + 0.125 as amount"
            " from range($rows) as t(i)",
            {"generation": generation, "rows": rows},
        )
        db.execute(
            "create or replace table fct_generation as select $generation::bigint as generation",
            {"generation": generation},
        )
    total = Decimal(generation * rows * (rows - 1) // 2) + Decimal("0.125") * rows
    return rows, total, generation
