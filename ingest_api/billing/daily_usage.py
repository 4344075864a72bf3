"""A customer's usage per UTC day, feature and dimension value, from the stored events.

The published marts have no per-customer daily table (``mart_daily_usage`` is system-wide), so
this reads the event files the ingest API itself writes (``events/date=YYYY-MM-DD/part-N``):
only the days asked for are opened, and events count as the pipeline counts them:

* one copy per event id (the pipeline keeps the copy in the lowest part, then earliest day);
* an event is a feature's usage when the catalogue maps its ``event_type`` and ``unit`` to it,
  its quantity converted to the feature's unit;
* a day's quantity aggregates the feature's way, by the pipeline's own ``aggregate_usage``
  macro (``tollgate.billing.sql_rules``);
* the dimension is the event property the customer's plan prices the feature by.

Events are visible here once the ingest API has written them to Parquet (within
``TOLLGATE_WAL_SEGMENT_MAX_AGE``), before any pipeline run.
"""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb

from tollgate.billing.catalogue import Catalogue
from tollgate.billing.sql_rules import render_macro

_QUERY = """
with
units(event_type, unit, feature, factor, aggregation, dimension) as (
    select * from (values {units})
),
raw as (
    select
        e.event_id,
        e.quantity,
        e."timestamp" as event_at,
        e.received_at,
        e.properties,
        cast(e."date" as date) as event_date,
        cast(regexp_extract(e.filename, 'part-(\\d+)\\.parquet$', 1) as bigint) as part_seq,
        e.event_type,
        e.unit
    from read_parquet($files, hive_partitioning = true, filename = true) as e
    where e.customer_id = $customer
),
deduplicated as (
    select * from raw
    qualify row_number() over (
        partition by event_id order by part_seq, event_date, received_at, event_at, quantity
    ) = 1
),
usage as (
    select
        d.event_date,
        u.feature,
        u.aggregation,
        case when u.dimension is not null then d.properties[u.dimension] end as dimension,
        cast(d.quantity * cast(u.factor as decimal(38, 9)) as decimal(38, 18)) as quantity,
        d.event_at,
        d.part_seq,
        d.event_id
    from deduplicated as d
    inner join units as u on u.event_type = d.event_type and u.unit = d.unit
)
select
    event_date,
    feature,
    dimension,
    {aggregate} as quantity,
    count(*) as events
from usage
group by event_date, feature, dimension, aggregation
order by event_date, feature, dimension nulls first
"""


@dataclass(frozen=True, slots=True)
class DailyUsage:
    day: date
    feature: str
    dimension: str | None
    quantity: Decimal
    events: int


def day_files(events_dir: Path, start: date, end: date) -> list[Path]:
    """The published event files of the days ``start`` .. ``end`` (inclusive)."""
    files: list[Path] = []
    for directory in sorted(events_dir.glob("date=*")):
        try:
            day = date.fromisoformat(directory.name.removeprefix("date="))
        except ValueError:
            continue
        if start <= day <= end:
            files.extend(sorted(directory.glob("part-*.parquet")))
    return files


def daily_usage(
    events_dir: Path,
    catalogue: Catalogue,
    customer_id: str,
    start: date,
    end: date,
    dimensions: dict[str, str],
    feature: str | None = None,
) -> list[DailyUsage]:
    """``dimensions``: feature -> the event property it is split by (absent: not split)."""
    files = day_files(events_dir, start, end)
    units: list[tuple[str, str, str, str, str, str | None]] = []
    for name, spec in catalogue.features.items():
        if feature is not None and name != feature:
            continue
        conversions = {spec.unit: Decimal(1), **spec.unit_conversions}
        for unit, factor in conversions.items():
            units.append(
                (
                    spec.event_type,
                    unit,
                    name,
                    str(factor),
                    spec.aggregation.value,
                    dimensions.get(name),
                )
            )
    if not files or not units:
        return []
    placeholders = ", ".join(
        f"(${p}_0, ${p}_1, ${p}_2, ${p}_3, ${p}_4, ${p}_5)"
        for p in (f"u{i}" for i in range(len(units)))
    )
    parameters: dict[str, object] = {
        "files": [str(path) for path in files],
        "customer": customer_id,
    }
    for index, row in enumerate(units):
        for column, value in enumerate(row):
            parameters[f"u{index}_{column}"] = value
    aggregate = render_macro("usage_aggregation.sql", "aggregate_usage", "aggregation", "quantity")
    sql = _QUERY.format(units=placeholders, aggregate=aggregate)
    with duckdb.connect(":memory:") as connection:
        # The values list names no table and takes only bound parameters.
        rows = connection.execute(sql, parameters).fetchall()
    return [
        DailyUsage(day, name, dimension, Decimal(quantity), int(events))
        for day, name, dimension, quantity, events in rows
    ]
