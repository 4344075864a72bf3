"""The billing pipeline end to end: events and control-plane state in, invoices out.

One scenario, run forward in time (each run is a real Dagster job with real dbt on DuckDB):
October's cycle billed as a draft, finalized after the grace period, a late event billed as an
adjustment on November's invoice, a re-run that changes nothing, and a tampered ledger that
blocks finalization. Expected amounts are worked by hand from plans.yaml.
"""

from __future__ import annotations

import shutil
import threading
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from pipelines.runner import PipelineRunError, run_pipeline
from tests.pipelines.scenario import Event, Scenario, utc
from tollgate.warehouse.reader import PublishedMarts

pytestmark = pytest.mark.timeout(900)

OCT_1 = utc(2026, 10, 1)
NOV_1 = utc(2026, 11, 1)


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    scenario = Scenario(tmp_path_factory.mktemp("billing"))
    control = scenario.control(OCT_1)
    for customer, plan in (("acme", "professional"), ("bolt", "starter"), ("carl", "free")):
        control.create_customer(customer, name=customer.title())
        control.subscribe(customer, plan, at=OCT_1)
    # bolt upgrades mid-cycle: the control plane records the proration.
    scenario.control(utc(2026, 10, 16)).change_plan(
        control.list_subscriptions("bolt")[0].id, "professional", at=utc(2026, 10, 16)
    )
    scenario.publish(
        [
            Event("acme", "ai_tokens", 300_000, utc(2026, 10, 2, 9)),
            Event("acme", "ai_tokens", 300_000, utc(2026, 10, 5, 9)),
            Event("acme", "api_call", 51_000, utc(2026, 10, 5, 10)),
            Event("acme", "storage", 500, utc(2026, 10, 6), unit="MB"),
            Event("bolt", "api_call", 10, utc(2026, 10, 3), event_id="dup-1"),
            Event("carl", "api_call", 800, utc(2026, 10, 4)),
        ],
        received_at=utc(2026, 10, 6, 1),
    )
    scenario.publish(
        [
            # a retry the ingest API let through, and one with another timestamp (date)
            Event("bolt", "api_call", 10, utc(2026, 10, 3), event_id="dup-1"),
            Event("bolt", "api_call", 10, utc(2026, 10, 7), event_id="dup-1"),
            Event("carl", "api_call", 150, utc(2026, 10, 8, 12)),
        ],
        received_at=utc(2026, 10, 8, 13),
    )
    return scenario


def _invoice(scenario: Scenario, customer: str, period_start: Any) -> dict[str, Any]:
    rows = scenario.query(
        "select invoice_id, status, invoice_number, total from fct_invoices "
        "where customer_id = ? and period_start = ?",
        customer,
        period_start,
    )
    assert len(rows) == 1, rows
    invoice_id, status, number, total = rows[0]
    lines = scenario.query(
        "select line_kind, feature, quantity, amount, description, cycle_id, trace_seq_from, "
        "trace_seq_to from fct_invoice_lines where invoice_id = ? order by sort_order",
        invoice_id,
    )
    return {"id": invoice_id, "status": status, "number": number, "total": total, "lines": lines}


def _snapshot(scenario: Scenario) -> dict[str, list[tuple[Any, ...]]]:
    tables = {
        "fct_invoices": "invoice_id",
        "fct_invoice_lines": "line_id",
        "fct_notifications": "notification_id",
        "fct_limit_status": "customer_id, feature",
        "fct_billing_cycles": "cycle_id",
        "mart_daily_usage": "usage_date, feature",
    }
    return {
        table: scenario.query(f"select * from {table} order by {order}")  # noqa: S608
        for table, order in tables.items()
    }


@pytest.fixture(scope="module")
def october(scenario: Scenario) -> Scenario:
    scenario.run(utc(2026, 10, 20))
    return scenario


def test_a_draft_invoice_bills_base_fee_and_usage_by_tier(october: Scenario) -> None:
    invoice = _invoice(october, "acme", OCT_1)
    assert invoice["status"] == "draft"
    assert invoice["number"] is None
    amounts = {(kind, feature): amount for kind, feature, _, amount, *_ in invoice["lines"]}
    assert amounts[("base_fee", None)] == 7900
    # 600,000 tokens: 500,000 included, 100,000 in tier 1 at 0.1 cent = 10,000 cents.
    assert amounts[("usage", "ai_tokens")] == 10_000
    # 51,000 calls: 50,000 included, 1,000 at 0.006 cent = 6 cents.
    assert amounts[("usage", "api_calls")] == 6
    # 500 MB is 0.5 GB, inside the 50 GB included.
    storage = [line for line in invoice["lines"] if line[1] == "storage"]
    assert sum(line[2] for line in storage) == Decimal("0.5")
    assert invoice["total"] == 7900 + 10_000 + 6
    assert invoice["total"] == sum(line[3] for line in invoice["lines"])


def test_a_mid_cycle_upgrade_bills_the_recorded_proration(october: Scenario) -> None:
    invoice = _invoice(october, "bolt", OCT_1)
    change = october.control(utc(2026, 10, 20)).plan_changes(
        october.control(OCT_1).list_subscriptions("bolt")[0].id
    )[0]
    kinds = {kind: amount for kind, _, _, amount, *_ in invoice["lines"]}
    assert kinds["base_fee"] == 2900
    assert kinds["proration_credit"] == change.credit < 0
    assert kinds["proration_charge"] == change.charge > 0


def test_an_event_sent_three_times_is_billed_once(october: Scenario) -> None:
    invoice = _invoice(october, "bolt", OCT_1)
    calls = sum(line[2] for line in invoice["lines"] if line[1] == "api_calls")
    assert calls == 10
    copies = october.query(
        "select event_date, part_seq from stg_ingest__usage_events where event_id = 'dup-1'"
    )
    assert copies == [(utc(2026, 10, 3).date(), 1)]


def test_limit_status_and_each_threshold_notified_once(october: Scenario) -> None:
    status = october.query(
        "select used, limit_value, percent_used, enforcement, status from fct_limit_status "
        "where customer_id = 'carl' and feature = 'api_calls'"
    )
    assert status == [(Decimal(950), Decimal(1000), Decimal("95.00"), "hard", "critical")]
    notices = october.query(
        "select notification_type, threshold_percent, created_at from fct_notifications "
        "where customer_id = 'carl' order by threshold_percent"
    )
    # 800 of 1,000 crossed 75% on Oct 4; 950 crossed 90% on Oct 8.
    assert notices == [
        ("limit_warning", 75, utc(2026, 10, 4)),
        ("limit_warning", 90, utc(2026, 10, 8, 12)),
    ]


@pytest.fixture(scope="module")
def closed(october: Scenario) -> Scenario:
    october.run(utc(2026, 11, 1, 2), close=True)
    return october


def test_a_cycle_is_finalized_after_its_grace_period(closed: Scenario) -> None:
    invoice = _invoice(closed, "acme", OCT_1)
    assert invoice["status"] == "finalized"
    assert invoice["number"].startswith("TG-")
    assert invoice["total"] == 17_906
    november = _invoice(closed, "acme", NOV_1)
    assert november["status"] == "draft"
    cycle_end = closed.query(
        "select count(*) from fct_notifications where customer_id = 'acme' "
        "and notification_type = 'billing_cycle_end'"
    )
    assert cycle_end == [(1,)]


@pytest.fixture(scope="module")
def late(closed: Scenario) -> tuple[Scenario, dict[str, Any]]:
    before = _invoice(closed, "acme", OCT_1)
    closed.publish(
        [Event("acme", "ai_tokens", 50_000, utc(2026, 10, 20), event_id="late-1")],
        received_at=utc(2026, 11, 2),
    )
    closed.run(utc(2026, 11, 3), close=True)
    return closed, before


def test_a_late_event_never_changes_the_finalized_invoice(
    late: tuple[Scenario, dict[str, Any]],
) -> None:
    scenario, before = late
    assert _invoice(scenario, "acme", OCT_1) == before


def test_a_late_event_is_billed_as_an_adjustment_on_the_next_invoice(
    late: tuple[Scenario, dict[str, Any]],
) -> None:
    scenario, _ = late
    november = _invoice(scenario, "acme", NOV_1)
    adjustments = [line for line in november["lines"] if line[0] == "adjustment"]
    assert len(adjustments) == 1
    _, feature, quantity, amount, description, cycle_id, seq_from, seq_to = adjustments[0]
    assert (feature, quantity, amount) == ("ai_tokens", Decimal(50_000), 5_000)
    assert "2026-10-01 to 2026-11-01" in description
    assert cycle_id == "acme/2026-10-01T00:00:00Z"
    # Traceable: exactly the late event lies behind it.
    traced = scenario.query(
        "select event_id from int_usage_events where customer_id = 'acme' "
        "and feature = ? and part_seq > ? and part_seq <= ? "
        "and event_at >= ? and event_at < ?",
        feature,
        seq_from,
        seq_to,
        OCT_1,
        NOV_1,
    )
    assert traced == [("late-1",)]


def test_rerunning_changes_nothing_while_readers_keep_reading(
    late: tuple[Scenario, dict[str, Any]],
) -> None:
    scenario, _ = late
    before = _snapshot(scenario)
    marts = PublishedMarts(scenario.settings.marts_dir)
    reads: list[int] = []
    errors: list[Exception] = []
    done = threading.Event()

    def read_until_done() -> None:
        while not done.is_set():
            try:
                rows = marts.connect().sql("select count(*) from fct_invoices").fetchall()
                reads.append(rows[0][0])
            except Exception as error:  # the test reports any failure
                errors.append(error)
                return

    reader = threading.Thread(target=read_until_done)
    reader.start()
    try:
        # the whole graph again, and one partition again on its own
        scenario.run(utc(2026, 11, 3), close=True)
        scenario.run(utc(2026, 11, 3), close=True, dates=[utc(2026, 10, 20).date()])
    finally:
        done.set()
        reader.join(timeout=60)
    assert errors == []
    assert reads
    assert set(reads) == {len(before["fct_invoices"])}
    assert _snapshot(scenario) == before


def test_a_tampered_ledger_blocks_finalization(
    late: tuple[Scenario, dict[str, Any]], tmp_path: Path
) -> None:
    scenario, _ = late
    ledger = scenario.settings.invoice_ledger_dir
    batches_before = sorted(path.name for path in ledger.iterdir())
    lines_file = ledger / "batch-000001" / "lines.parquet"
    shutil.copy(lines_file, tmp_path / "lines.parquet")
    table = pq.read_table(lines_file)
    tampered = table.set_column(
        table.schema.get_field_index("amount"),
        table.schema.field("amount"),
        pc.add(table["amount"], 1),
    )
    pq.write_table(tampered, lines_file)
    try:
        with pytest.raises(PipelineRunError, match="assert_invoice_totals_equal_line_sums"):
            run_pipeline(
                scenario.settings, utc(2026, 12, 2), close=True, instance=scenario.instance
            )
        # November ended and waited out its grace, but nothing was finalized.
        assert sorted(path.name for path in ledger.iterdir()) == batches_before
    finally:
        shutil.copy(tmp_path / "lines.parquet", lines_file)
