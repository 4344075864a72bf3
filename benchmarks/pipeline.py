"""The billing pipeline over a month of generated events, beside DuckDB alone on the same Parquet.

    ./dev python benchmarks/pipeline.py [--events 10000000 --customers 50000 --days 30]
        [--history-days 15] [--data-dir /tmp/tollgate-pipeline-bench]

Creates the customers and their subscriptions in the control database, generates the events
with numpy (vectorised, no per-event Python objects) and publishes them with
``ingest_api.storage.compactor.publish_events``, the Parquet writer the ingest API's compactor
uses, one part per hour of arrivals. Then, in one process with one Dagster instance:

1. the full materialization: ``run_pipeline(close=False)``, every event date, then the refresh;
2. the incremental run after one more hour of events (one new part): the event date the
   ``new_event_files`` sensor would request, then the refresh;
3. the ceiling: plain DuckDB over the same Parquet files (a sum by customer and event type, and
   the same after deduplicating by ``(customer_id, event_id)``).

Five event types flow through the pipeline: the catalogue's three billable features and two
event types no plan bills (``search`` and ``export``), which are staged and deduplicated but not
priced. With ``--history-days`` a second data set with that much history (at the same event
rate) gets the same full and incremental runs, to show what the incremental run grows with.
Prints JSON on stdout; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Engine, insert

from ingest_api.storage.compactor import publish_events
from ingest_api.storage.rows import EVENTS_SCHEMA, QUANTITY_TYPE
from pipelines.runner import run_pipeline
from tollgate.control.database import open_control_database
from tollgate.control.schema import customers, subscription_plans, subscriptions
from tollgate.control.service import ControlService
from tollgate.settings import TollgateSettings

DBT_TARGET_DIR = Path(__file__).resolve().parents[1] / "dbt_project" / "target"
PLANS = ("free", "starter", "professional", "enterprise", "pay_per_use")
MODELS = ("gpt-4o-mini", "claude-haiku", "llama-3-70b", "gpt-4o")
HOUR_US = 3_600_000_000
SCALE = 10**9  # decimal128(38, 9): quantities are stored as integers of 10^-9


@dataclass(frozen=True)
class EventType:
    event_type: str
    feature: str  # the endpoint-level feature name clients send (analytics only)
    unit: str
    share: float
    billable: bool


EVENT_TYPES = (
    EventType("api_call", "rest-api", "call", 0.45, billable=True),
    EventType("ai_tokens", "chat", "token", 0.20, billable=True),
    EventType("storage", "files", "GB", 0.05, billable=True),
    EventType("search", "search", "call", 0.20, billable=False),
    EventType("export", "reports", "call", 0.10, billable=False),
)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """dbt (a subprocess) and dagster-dbt print to file descriptor 1: send all of it to
    stderr, so stdout carries only the JSON."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


class LoadSampler:
    """The machine's 1-minute load average every few seconds: other work on the two cores
    (tests running beside the benchmark) shows up here, next to the timings it distorts."""

    def __init__(self, every_s: float = 5.0) -> None:
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(every_s,), daemon=True)
        self._thread.start()

    def _run(self, every_s: float) -> None:
        while not self._stop.wait(every_s):
            self.samples.append(os.getloadavg()[0])

    def stop(self) -> dict[str, float]:
        self._stop.set()
        self._thread.join()
        samples = self.samples or [os.getloadavg()[0]]
        return {"mean": round(sum(samples) / len(samples), 2), "max": round(max(samples), 2)}


# -- control plane -----------------------------------------------------------------------------


def create_customers(
    engine: Engine, settings: TollgateSettings, count: int, started: datetime, sample: int
) -> dict[str, Any]:
    """``count`` customers, each subscribed at ``started`` to a plan (round-robin over PLANS).

    The first ``sample`` go through ``ControlService`` (validation, audit rows, one transaction
    each) to measure what that costs; the rest are inserted with SQLAlchemy core in one
    transaction, the same rows the service writes minus the audit log. That is a benchmark
    fixture, not a product path: at the measured rate the service would take minutes for 50,000.
    """
    service = ControlService(engine, settings.catalogue(), actor="benchmark", clock=lambda: started)
    sample = min(sample, count)
    began = time.perf_counter()
    for n in range(sample):
        customer_id = customer_name(n)
        service.create_customer(customer_id, name=f"Customer {n}")
        service.subscribe(customer_id, PLANS[n % len(PLANS)], at=started)
    service_s = time.perf_counter() - began
    began = time.perf_counter()
    rest = range(sample, count)
    sub_ids = [f"sub_{secrets.token_hex(8)}" for _ in rest]
    with engine.begin() as db:
        if rest:
            db.execute(
                insert(customers),
                [
                    {
                        "id": customer_name(n),
                        "name": f"Customer {n}",
                        "email": None,
                        "timezone": "UTC",
                        "currency": "usd",
                        "created_at": started,
                        "updated_at": started,
                        "stripe_customer_id": None,
                    }
                    for n in rest
                ],
            )
            db.execute(
                insert(subscriptions),
                [
                    {
                        "id": sub_id,
                        "customer_id": customer_name(n),
                        "status": "active",
                        "started_at": started,
                        "billing_anchor": started,
                        "anchoring": None,
                        "cancel_at": None,
                        "ended_at": None,
                        "created_at": started,
                    }
                    for n, sub_id in zip(rest, sub_ids, strict=True)
                ],
            )
            db.execute(
                insert(subscription_plans),
                [
                    {
                        "subscription_id": sub_id,
                        "plan": PLANS[n % len(PLANS)],
                        "effective_from": started,
                        "effective_to": None,
                    }
                    for n, sub_id in zip(rest, sub_ids, strict=True)
                ],
            )
    bulk_s = time.perf_counter() - began
    report: dict[str, Any] = {
        "customers": count,
        "via_control_service": sample,
        "via_bulk_insert": len(rest),
        "seconds": round(service_s + bulk_s, 2),
    }
    if sample:
        report["control_service_customers_per_s"] = round(sample / service_s)
        report["control_service_projected_seconds_for_all"] = round(count * service_s / sample, 1)
    if rest:
        report["bulk_insert_customers_per_s"] = round(len(rest) / bulk_s)
    return report


def customer_name(n: int) -> str:
    return f"cus_{n:06d}"


# -- events ------------------------------------------------------------------------------------


class EventWriter:
    """Generates events hour by hour of arrival and publishes each hour as one Parquet part."""

    def __init__(self, settings: TollgateSettings, customer_count: int, seed: int) -> None:
        self.events_dir = settings.events_dir
        self.rng = np.random.default_rng(seed)
        self.customer_ids = pa.array([customer_name(n) for n in range(customer_count)])
        # Skewed activity, as real customers are: lognormal weights (a few heavy users).
        weights = self.rng.lognormal(0.0, 1.2, customer_count)
        self.customer_cdf = np.cumsum(weights) / weights.sum()
        self.type_cdf = np.cumsum([t.share for t in EVENT_TYPES])
        self.type_cdf[-1] = 1.0
        self.event_types = pa.array([t.event_type for t in EVENT_TYPES])
        self.features = pa.array([t.feature for t in EVENT_TYPES])
        self.units = pa.array([t.unit for t in EVENT_TYPES])
        self.models = pa.array(MODELS)
        self.seq = 0
        self.next_id = 0
        self.previous: pa.Table | None = None
        self.generate_s = 0.0
        self.write_s = 0.0
        self.rows = 0
        self.unique = 0
        self.files = 0

    def publish_hour(self, hour_start_us: int, count: int, duplicate_rate: float) -> None:
        """One compactor flush: ``count`` new events that arrived in this hour, plus client
        retries of a ``duplicate_rate`` share of the previous flush's events (same ids)."""
        began = time.perf_counter()
        table = self._generate(hour_start_us, count)
        if self.previous is not None and duplicate_rate > 0:
            table = pa.concat_tables([table, self._retries(hour_start_us, duplicate_rate)])
        self.previous = table
        generated = time.perf_counter()
        self.seq += 1
        self.files += len(publish_events(table, self.events_dir, self.seq))
        self.generate_s += generated - began
        self.write_s += time.perf_counter() - generated
        self.rows += table.num_rows
        self.unique += count

    def _generate(self, hour_start_us: int, count: int) -> pa.Table:
        rng = self.rng
        # Arrival uniform over the hour; the event happened 0.1-60 s before it arrived (with a
        # long tail), so events near a day boundary land in the previous date's folder.
        received = hour_start_us + rng.integers(0, HOUR_US, count)
        delay = np.minimum(rng.exponential(2_000_000, count), 60_000_000).astype(np.int64)
        happened = received - delay - 100_000
        order = np.argsort(received, kind="stable")
        received, happened = received[order], happened[order]
        customer = np.searchsorted(self.customer_cdf, rng.random(count))
        kind = np.searchsorted(self.type_cdf, rng.random(count))
        quantity = np.full(count, SCALE, dtype=np.int64)  # one call
        tokens = kind == 1
        quantity[tokens] = np.maximum(rng.lognormal(6.0, 1.0, tokens.sum()), 1).astype(np.int64) * (
            SCALE
        )
        gigabytes = kind == 2
        # Storage readings in GB with 6 decimals (0.000001 GB = 1 KB).
        quantity[gigabytes] = (rng.lognormal(0.0, 1.5, gigabytes.sum()) * 1e6).astype(
            np.int64
        ) * 1000
        ids = np.arange(self.next_id, self.next_id + count)
        self.next_id += count
        event_ids = pc.binary_join_element_wise("evt_", pa.array(ids).cast(pa.string()), "")
        kinds = pa.array(kind)
        return pa.Table.from_arrays(
            [
                event_ids,
                self.customer_ids.take(pa.array(customer)),
                self.event_types.take(kinds),
                self.features.take(kinds),
                decimal_array(quantity),
                self.units.take(kinds),
                pa.array(happened).cast(pa.timestamp("us", tz="UTC")),
                pa.array(received).cast(pa.timestamp("us", tz="UTC")),
                self._properties(tokens),
                pa.repeat(pa.scalar("sdk-python"), count),
            ],
            schema=EVENTS_SCHEMA,
        )

    def _properties(self, tokens: npt.NDArray[np.bool_]) -> pa.Array:
        # ai_tokens events carry {"model": ...}; every other event an empty map.
        offsets = np.zeros(len(tokens) + 1, dtype=np.int32)
        np.cumsum(tokens, out=offsets[1:])
        with_model = int(tokens.sum())
        keys = pa.repeat(pa.scalar("model"), with_model)
        values = self.models.take(pa.array(self.rng.integers(0, len(MODELS), with_model)))
        return pa.MapArray.from_arrays(pa.array(offsets), keys, values)

    def _retries(self, hour_start_us: int, rate: float) -> pa.Table:
        assert self.previous is not None
        rows = self.rng.random(self.previous.num_rows) < rate
        again = self.previous.filter(pa.array(rows))
        arrived = np.sort(hour_start_us + self.rng.integers(0, HOUR_US, again.num_rows))
        column = EVENTS_SCHEMA.get_field_index("received_at")
        return again.set_column(
            column,
            EVENTS_SCHEMA.field(column),
            pa.array(arrived).cast(pa.timestamp("us", tz="UTC")),
        )

    def report(self) -> dict[str, Any]:
        return {
            "events": self.unique,
            "rows_written_including_retried_duplicates": self.rows,
            "parts": self.seq,
            "files": self.files,
            "parquet_bytes": sum(p.stat().st_size for p in self.events_dir.rglob("*.parquet")),
            "generate_seconds": round(self.generate_s, 2),
            "write_seconds": round(self.write_s, 2),
            "writer_events_per_s": round(self.rows / self.write_s) if self.write_s else None,
        }


def decimal_array(unscaled: npt.NDArray[np.int64]) -> pa.Array:
    """decimal128(38, 9) from non-negative integers of 10^-9, without a Python Decimal each."""
    words = np.zeros((len(unscaled), 2), dtype=np.int64)  # little-endian 128-bit, high word 0
    words[:, 0] = unscaled
    return pa.Array.from_buffers(QUANTITY_TYPE, len(unscaled), [None, pa.py_buffer(words)])


def write_history(
    writer: EventWriter, as_of: datetime, days: int, events: int, duplicate_rate: float
) -> None:
    """``events`` new events arriving evenly over the ``days`` before ``as_of``, hour by hour."""
    hours = days * 24
    per_hour = np.full(hours, events // hours)
    per_hour[: events % hours] += 1
    first = to_micros(as_of) - hours * HOUR_US
    for hour in range(hours):
        writer.publish_hour(first + hour * HOUR_US, int(per_hour[hour]), duplicate_rate)
        if hour % 72 == 71:
            log(f"  {hour + 1}/{hours} hours published ({writer.rows:,} rows)")


def to_micros(moment: datetime) -> int:
    return int(moment.timestamp()) * 1_000_000


# -- pipeline runs -----------------------------------------------------------------------------


def timed_run(
    settings: TollgateSettings,
    as_of: datetime,
    instance: dg.DagsterInstance,
    dates: list[date] | None,
) -> dict[str, Any]:
    """One ``run_pipeline`` (load the dates, then refresh), with Dagster's and dbt's timings."""
    since = time.time()
    began = time.perf_counter()
    results = run_pipeline(settings, as_of, close=False, dates=dates, instance=instance)
    seconds = time.perf_counter() - began
    report: dict[str, Any] = {"seconds": round(seconds, 2)}
    for result in results:
        stats = instance.get_run_stats(result.run_id)
        report[result.job_def.name] = {
            "run_seconds": round((stats.end_time or 0) - (stats.start_time or 0), 2),
            "steps": {
                event.step_key: round(event.step_success_data.duration_ms / 1000, 2)
                for event in result.get_step_success_events()
                if event.step_key
            },
        }
    invocations = dbt_invocations(since)
    report["dbt"] = invocations
    commands = sum(float(i.get("dbt_command_seconds", 0)) for i in invocations)
    report["split"] = {
        "dbt_invocations": len(invocations),
        # dbt's own "Finished running ... in N seconds": the models and tests themselves
        "dbt_models_and_tests_seconds": round(
            sum(float(i["dbt_elapsed_seconds"]) for i in invocations), 2
        ),
        # each dbt process from its first log line until it is done, parsing included
        "dbt_commands_seconds": round(commands, 2),
        "dbt_startup_and_parse_seconds": round(
            sum(float(i.get("dbt_startup_and_parse_seconds", 0)) for i in invocations), 2
        ),
        # Dagster, dagster-dbt (adapter set-up, event streaming), dbt process start, Python steps
        "outside_dbt_commands_seconds": round(seconds - commands, 2),
    }
    return report


def dbt_invocations(since: float) -> list[dict[str, Any]]:
    """dbt's own figures (run_results.json) for the invocations this run made: its
    "Finished running ... in N seconds" and the slowest nodes."""
    invocations: list[dict[str, Any]] = []
    for path in DBT_TARGET_DIR.glob("*/run_results.json"):
        if path.stat().st_mtime < since:
            continue
        results = json.loads(path.read_text())
        nodes = sorted(results["results"], key=lambda r: -float(r["execution_time"]))
        invocations.append(
            {
                "target": path.parent.name.rsplit("-", 2)[0],
                **dbt_log_phases(path.parent / "dbt.log"),
                "dbt_elapsed_seconds": round(float(results["elapsed_time"]), 2),
                "nodes": len(nodes),
                "node_seconds_total": round(sum(float(r["execution_time"]) for r in nodes), 2),
                "slowest_nodes": {
                    r["unique_id"].split(".", 2)[-1]: round(float(r["execution_time"]), 2)
                    for r in nodes[:8]
                },
                "finished_at": path.stat().st_mtime,
            }
        )
    invocations.sort(key=lambda i: float(i.pop("finished_at")))
    return invocations


def dbt_log_phases(log_file: Path) -> dict[str, Any]:
    """From dbt's own log: the command from its first line to "Command ... succeeded", and
    the part before the first node (start-up, parsing) with whether it parsed from scratch."""
    stamps: dict[str, datetime] = {}
    reparsed = False
    for line in log_file.read_text().splitlines():
        if not line.startswith("{"):
            continue
        info = json.loads(line)["info"]
        moment = datetime.fromisoformat(info["ts"].replace("Z", "+00:00"))
        stamps.setdefault("first", moment)
        name = info["name"]
        reparsed = reparsed or name == "UnableToPartialParse"
        if name in ("ConcurrencyLine", "CommandCompleted"):
            stamps[name] = moment
    if not {"first", "ConcurrencyLine", "CommandCompleted"} <= stamps.keys():
        return {}
    return {
        "dbt_command_seconds": round(
            (stamps["CommandCompleted"] - stamps["first"]).total_seconds(), 2
        ),
        "dbt_startup_and_parse_seconds": round(
            (stamps["ConcurrencyLine"] - stamps["first"]).total_seconds(), 2
        ),
        "dbt_parsed_from_scratch": reparsed,
    }


def ceiling(events_dir: Path) -> dict[str, Any]:
    """Plain DuckDB over the same Parquet: the least any pipeline could take to read it."""
    queries = {
        "sum_seconds": "select customer_id, event_type, sum(quantity) from events group by all",
        "dedup_sum_seconds": (
            "select customer_id, event_type, sum(quantity) from ("
            "select * from events qualify row_number() over ("
            "partition by customer_id, event_id order by received_at) = 1) group by all"
        ),
    }
    figures: dict[str, Any] = {}
    with duckdb.connect() as con:
        con.read_parquet(f"{events_dir}/date=*/*.parquet", hive_partitioning=True).create_view(
            "events"
        )
        for name, sql in queries.items():
            began = time.perf_counter()
            rows = con.sql(sql).fetchall()
            figures[name] = round(time.perf_counter() - began, 3)
            figures[name.replace("seconds", "groups")] = len(rows)
    return figures


def warehouse_rows(settings: TollgateSettings) -> dict[str, int]:
    tables = ("stg_ingest__usage_events", "int_cycle_usage", "fct_invoice_lines", "fct_invoices")
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        return {t: int(con.sql(f"select count(*) from {t}").fetchall()[0][0]) for t in tables}  # noqa: S608


@dataclass(frozen=True)
class DataSet:
    data_dir: Path
    days: int
    events: int


def run_data_set(
    spec: DataSet, args: argparse.Namespace, as_of: datetime, events_per_hour: int
) -> dict[str, Any]:
    shutil.rmtree(spec.data_dir, ignore_errors=True)
    spec.data_dir.mkdir(parents=True)
    settings = TollgateSettings(data_dir=spec.data_dir)
    log(f"{spec.data_dir}: {args.customers:,} customers, {spec.days} days, {spec.events:,} events")
    engine = open_control_database(settings.control_database_url)
    try:
        control = create_customers(
            engine,
            settings,
            args.customers,
            as_of - timedelta(days=35),
            args.service_sample,
        )
    finally:
        engine.dispose()
    log(f"  customers: {control}")

    writer = EventWriter(settings, args.customers, args.seed)
    write_history(writer, as_of, spec.days, spec.events, args.duplicate_rate)
    events = writer.report()
    log(f"  events: {events}")

    instance = dg.DagsterInstance.ephemeral()
    load = LoadSampler()
    log("  full run (every date, then the refresh) ...")
    full = timed_run(settings, as_of, instance, None)
    log(f"  full run: {full['seconds']} s")
    rows_after_full = warehouse_rows(settings)

    # One more hour: the sensor sees one new part and requests its event date.
    writer.publish_hour(to_micros(as_of), events_per_hour, args.duplicate_rate)
    new_hour = as_of.date()
    log(f"  incremental run (date {new_hour}, {events_per_hour:,} new events) ...")
    incremental = timed_run(settings, as_of + timedelta(hours=1), instance, [new_hour])
    log(f"  incremental run: {incremental['seconds']} s")
    rows_after = warehouse_rows(settings)

    log("  ceiling: plain DuckDB over the same Parquet ...")
    baseline = ceiling(settings.events_dir)
    return {
        "data_dir": str(spec.data_dir),
        "history_days": spec.days,
        "control_plane": control,
        "events": events,
        "full_run": full,
        "incremental_run": {"new_events": events_per_hour, "date": str(new_hour), **incremental},
        "warehouse_rows_after_full_run": rows_after_full,
        "warehouse_rows_after_incremental_run": rows_after,
        "ceiling_plain_duckdb": baseline,
        "load_average_during_runs": load.stop(),
    }


def ratios(result: dict[str, Any]) -> dict[str, float]:
    full = float(result["full_run"]["seconds"])
    incremental = float(result["incremental_run"]["seconds"])
    ceiling_ = result["ceiling_plain_duckdb"]
    return {
        "full_run_to_ceiling_sum": round(full / ceiling_["sum_seconds"], 1),
        "full_run_to_ceiling_dedup_sum": round(full / ceiling_["dedup_sum_seconds"], 1),
        "incremental_run_to_ceiling_sum": round(incremental / ceiling_["sum_seconds"], 1),
        "incremental_run_to_full_run": round(incremental / full, 3),
    }


def dbt_seconds(run: dict[str, Any]) -> Iterator[float]:
    for invocation in run["dbt"]:
        yield float(invocation["dbt_elapsed_seconds"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--customers", type=int, default=50_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument(
        "--history-days",
        type=int,
        default=None,
        help="also run a second data set with this many days of history (same event rate)",
    )
    parser.add_argument(
        "--as-of",
        default="2026-11-20T12:00:00+00:00",
        help="the end of the generated history (the full run's as-of moment)",
    )
    parser.add_argument("--duplicate-rate", type=float, default=0.001)
    parser.add_argument(
        "--service-sample",
        type=int,
        default=1000,
        help="customers created through ControlService (timed); the rest are bulk-inserted",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--data-dir", type=Path, default=Path("/tmp/tollgate-pipeline-bench"), help="scratch dir"
    )
    parser.add_argument("--keep", action="store_true", help="keep the data dirs afterwards")
    args = parser.parse_args()
    as_of = datetime.fromisoformat(args.as_of).astimezone(UTC)
    events_per_hour = round(args.events / (args.days * 24))

    with stdout_to_stderr():
        began = time.perf_counter()
        import pipelines.definitions  # noqa: F401  (the asset graph and dbt manifest, loaded once)

        import_s = time.perf_counter() - began
    main_set = DataSet(args.data_dir / f"history-{args.days}d", args.days, args.events)
    report: dict[str, Any] = {
        "customers": args.customers,
        "days": args.days,
        "events": args.events,
        "event_types": len(EVENT_TYPES),
        "billable_features": sum(t.billable for t in EVENT_TYPES),
        "event_type_shares": {t.event_type: t.share for t in EVENT_TYPES},
        "as_of": as_of.isoformat(),
        "cpus": os.cpu_count(),
        "load_average_at_start": round(os.getloadavg()[0], 2),
        "pipeline_import_seconds": round(import_s, 2),
    }
    data_sets = [main_set]
    if args.history_days:
        events = round(args.events * args.history_days / args.days)
        data_sets.append(
            DataSet(args.data_dir / f"history-{args.history_days}d", args.history_days, events)
        )
    runs: list[dict[str, Any]] = []
    try:
        with stdout_to_stderr():
            runs.append(run_data_set(main_set, args, as_of, events_per_hour))
            for spec in data_sets[1:]:
                try:
                    runs.append(run_data_set(spec, args, as_of, events_per_hour))
                except Exception as error:  # keep the main figures; say why this one is missing
                    log(f"  failed: {error}")
                    runs.append({"data_dir": str(spec.data_dir), "error": str(error)})
    finally:
        if not args.keep:
            for spec in data_sets:
                shutil.rmtree(spec.data_dir, ignore_errors=True)
    report["run"] = runs[0]
    report["ratios"] = ratios(runs[0])
    full_s = float(runs[0]["full_run"]["seconds"])
    incremental_s = float(runs[0]["incremental_run"]["seconds"])
    report["dbt_elapsed_seconds"] = {
        "full_run": round(sum(dbt_seconds(runs[0]["full_run"])), 2),
        "incremental_run": round(sum(dbt_seconds(runs[0]["incremental_run"])), 2),
    }
    if len(runs) > 1:
        short = runs[1]
        report["shorter_history"] = short
        if "error" not in short:
            report["ratios"]["incremental_run_full_history_to_shorter_history"] = round(
                incremental_s / float(short["incremental_run"]["seconds"]), 2
            )
            report["ratios"]["full_run_full_history_to_shorter_history"] = round(
                full_s / float(short["full_run"]["seconds"]), 2
            )
    report["targets"] = {
        "full_run_seconds <= 60": full_s <= 60,
        "incremental_run_seconds <= 15": incremental_s <= 15,
    }
    json.dump(report, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
