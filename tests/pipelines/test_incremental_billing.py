"""Incremental billing gives exactly what a full rebuild gives.

The billing models rebuild only the customers (or event dates) whose inputs changed since their
last build (dbt_project/macros/incremental_state.sql). This scenario moves forward through
everything that can change a customer's rows: new events, a retried duplicate (one in another
date, loaded out of order), an event loaded before the run's moment lets it count, a plan
change, a limit override, a cycle boundary, a finalized invoice, a late event after it, a
notification read, and a customer nobody touched.
After each step the warehouse's billing tables must equal, row for row, a from-scratch run of
the pipeline on a copy of the same data as of the same moment.
"""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.pipelines.scenario import Event, Scenario, utc

pytestmark = pytest.mark.timeout(900)

TABLES = (
    "int_billing_cycles",
    "int_limit_windows",
    "int_cycle_usage",
    "int_window_usage",
    "int_usage_prices",
    "int_invoice_draft_lines",
    "fct_notifications",
    "mart_daily_usage",
    "fct_invoices",
    "fct_invoice_lines",
    "fct_limit_status",
    "fct_cycle_usage",
)


def _tables(scenario: Scenario) -> dict[str, list[tuple[Any, ...]]]:
    return {table: scenario.query(f"select * from {table} order by all") for table in TABLES}  # noqa: S608


def _assert_same_as_full_rebuild(scenario: Scenario, as_of: datetime, tmp_path: Path) -> None:
    incremental = _tables(scenario)
    copy = tmp_path / f"rebuild-{as_of:%Y%m%d%H}"
    shutil.copytree(
        scenario.data_dir, copy, ignore=shutil.ignore_patterns("warehouse.duckdb*", "marts")
    )
    rebuilt = Scenario(copy)
    rebuilt.run(as_of)
    full = _tables(rebuilt)
    for table in TABLES:
        only_incremental = [row for row in incremental[table] if row not in full[table]]
        only_full = [row for row in full[table] if row not in incremental[table]]
        assert incremental[table] == full[table], (
            f"{table} differs from a full rebuild as of {as_of}:\n"
            f"only incremental: {only_incremental[:3]}\nonly full: {only_full[:3]}"
        )
    assert any(incremental.values())


def test_incremental_runs_match_a_full_rebuild(tmp_path: Path) -> None:
    scenario = Scenario(tmp_path / "data")
    control = scenario.control(utc(2026, 10, 1))
    for customer, plan in (("acme", "professional"), ("bolt", "starter"), ("carl", "free")):
        control.create_customer(customer, name=customer.title())
        control.subscribe(customer, plan, at=utc(2026, 10, 1))
    control.create_customer("dana", name="Dana")
    control.subscribe("dana", "starter", at=utc(2026, 10, 1))
    scenario.publish(
        [
            Event("acme", "ai_tokens", 300_000, utc(2026, 10, 2, 9), properties={"model": "m1"}),
            Event("bolt", "api_call", 9_000, utc(2026, 10, 3), event_id="b-1"),
            Event("carl", "api_call", 700, utc(2026, 10, 4)),
            Event("dana", "storage", 3, utc(2026, 10, 4)),
        ],
        received_at=utc(2026, 10, 5),
    )
    scenario.run(utc(2026, 10, 6))
    _assert_same_as_full_rebuild(scenario, utc(2026, 10, 6), tmp_path)

    # New usage crossing carl's warning and critical thresholds, a retry of bolt's event, and
    # an event received after the next run's moment (loaded, not yet billable).
    scenario.publish(
        [
            Event("carl", "api_call", 250, utc(2026, 10, 7)),
            Event("bolt", "api_call", 9_000, utc(2026, 10, 3), event_id="b-1"),
            Event("acme", "api_call", 60_000, utc(2026, 10, 7, 6)),
        ],
        received_at=utc(2026, 10, 7, 12),
    )
    scenario.publish(
        [Event("bolt", "api_call", 2_000, utc(2026, 10, 8, 23))], received_at=utc(2026, 10, 9)
    )
    scenario.run(utc(2026, 10, 8))
    _assert_same_as_full_rebuild(scenario, utc(2026, 10, 8), tmp_path)

    # The control plane moves: bolt upgrades, carl gets a higher limit.
    at = utc(2026, 10, 9, 12)
    later = scenario.control(at)
    later.change_plan(later.list_subscriptions("bolt")[0].id, "professional", at=at)
    later.set_limit("carl", "api_calls", 5_000)
    scenario.run(utc(2026, 10, 10))
    _assert_same_as_full_rebuild(scenario, utc(2026, 10, 10), tmp_path)

    # A retry with another timestamp lands in another date; the later date is loaded first,
    # then the earlier copy's date, which wins and removes the other date's row.
    scenario.publish(
        [Event("dana", "api_call", 4, utc(2026, 10, 11), event_id="d-dup")],
        received_at=utc(2026, 10, 12),
    )
    scenario.publish(
        [Event("dana", "api_call", 4, utc(2026, 10, 12, 1), event_id="d-dup")],
        received_at=utc(2026, 10, 12, 2),
    )
    scenario.run(utc(2026, 10, 13), dates=[utc(2026, 10, 12).date()])
    scenario.run(utc(2026, 10, 13), dates=[utc(2026, 10, 11).date()])
    _assert_same_as_full_rebuild(scenario, utc(2026, 10, 13), tmp_path)
    assert scenario.query(
        "select event_date from stg_ingest__usage_events where event_id = 'd-dup'"
    ) == [(utc(2026, 10, 11).date(),)]

    # October ends: a cycle boundary, nothing else.
    scenario.run(utc(2026, 11, 1, 1))
    _assert_same_as_full_rebuild(scenario, utc(2026, 11, 1, 1), tmp_path)

    # October is finalized; then an event for it arrives late, and carl reads a notice.
    scenario.run(utc(2026, 11, 1, 2), close=True)
    scenario.publish(
        [Event("acme", "api_call", 5_000, utc(2026, 10, 30))], received_at=utc(2026, 11, 2)
    )
    notice = scenario.query(
        "select notification_id from fct_notifications where customer_id = 'carl' limit 1"
    )[0][0]
    scenario.control(utc(2026, 11, 2)).mark_notification_read("carl", notice)
    scenario.run(utc(2026, 11, 3))
    _assert_same_as_full_rebuild(scenario, utc(2026, 11, 3), tmp_path)
    adjustments = scenario.query(
        "select customer_id from fct_invoice_lines where line_kind = 'adjustment'"
    )
    assert adjustments == [("acme",)]


def test_a_run_recomputes_only_the_customers_whose_inputs_changed(tmp_path: Path) -> None:
    scenario = Scenario(tmp_path)
    control = scenario.control(utc(2026, 10, 1))
    for customer in ("acme", "dana"):
        control.create_customer(customer, name=customer.title())
        control.subscribe(customer, "starter", at=utc(2026, 10, 1))
    scenario.publish(
        [
            Event("acme", "api_call", 100, utc(2026, 10, 2)),
            Event("dana", "api_call", 7, utc(2026, 10, 2)),
        ],
        received_at=utc(2026, 10, 2),
    )
    scenario.run(utc(2026, 10, 3))
    # Stand-in for a row an earlier run computed: if the next run recomputed dana, whose
    # inputs did not change, this mark would be gone.
    with duckdb.connect(str(scenario.settings.warehouse_path)) as con:
        con.execute("update int_cycle_usage set events = 1000 where customer_id = 'dana'")
    scenario.publish([Event("acme", "api_call", 5, utc(2026, 10, 3))], received_at=utc(2026, 10, 3))
    scenario.run(utc(2026, 10, 4))

    usage = dict(scenario.query("select customer_id, events from int_cycle_usage"))
    assert usage == {"acme": 2, "dana": 1000}
