"""The published marts' usage per customer, cycle, feature and dimension, as meter input."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from tollgate.stripe_sync.meter_targets import CycleUsage
from tollgate.warehouse.reader import PublishedMarts


def cycle_usage(marts_dir: Path) -> list[CycleUsage]:
    with PublishedMarts(marts_dir).connect() as db:
        rows = db.execute(
            """
            select customer_id, cycle_id, cycle_start, cycle_end, plan, feature, dimension,
                   quantity::varchar, amount
            from fct_cycle_usage
            order by customer_id, cycle_start, feature, dimension
            """
        ).fetchall()
    return [
        CycleUsage(
            str(row[0]),
            str(row[1]),
            row[2],
            row[3],
            str(row[4]),
            str(row[5]),
            None if row[6] is None else str(row[6]),
            Decimal(row[7]),
            int(row[8]),
        )
        for row in rows
    ]
