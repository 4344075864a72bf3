"""The sensor and schedules that start runs on their own, evaluated as the daemon would."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest

from pipelines.defs.billing.run_context import AS_OF_TAG
from pipelines.defs.billing.schedules import daily_cycle_close, hourly_usage_refresh
from pipelines.defs.billing.sensors import new_event_files_sensor
from tests.pipelines.scenario import Event, Scenario, utc


@pytest.fixture
def scenario(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Scenario:
    monkeypatch.setenv("TOLLGATE_DATA_DIR", str(tmp_path))
    return Scenario(tmp_path)


def _evaluate(cursor: str | None) -> tuple[list[dg.RunRequest], str | None]:
    context = dg.build_sensor_context(cursor=cursor)
    requests = list(new_event_files_sensor(context))  # type: ignore[arg-type]
    return requests, context.cursor


def test_new_files_request_one_run_per_event_date_and_move_the_cursor(
    scenario: Scenario,
) -> None:
    scenario.publish(
        [Event("a", "api_call", 1, utc(2026, 11, 1)), Event("a", "api_call", 1, utc(2026, 11, 2))],
        received_at=utc(2026, 11, 2),
    )
    requests, cursor = _evaluate(None)
    assert [(r.partition_key, r.run_key) for r in requests] == [
        ("2026-11-01", "events:2026-11-01:1"),
        ("2026-11-02", "events:2026-11-02:1"),
    ]
    assert cursor is not None
    assert json.loads(cursor) == {"seq": 1, "dates": ["2026-11-01", "2026-11-02"]}

    # Nothing new: nothing requested. A late event for Nov 1: only that date again.
    assert _evaluate(cursor)[0] == []
    scenario.publish([Event("a", "api_call", 1, utc(2026, 11, 1, 5))], received_at=utc(2026, 11, 3))
    requests, cursor = _evaluate(cursor)
    assert [(r.partition_key, r.run_key) for r in requests] == [
        ("2026-11-01", "events:2026-11-01:2")
    ]
    assert json.loads(cursor or "{}") == {"seq": 2, "dates": ["2026-11-01"]}


def test_a_tick_that_saw_half_a_flush_still_requests_the_other_half(scenario: Scenario) -> None:
    # One flush spanning two dates writes date=2026-11-01/part-1 and date=2026-11-02/part-1
    # one after the other; a tick in between sees only the first.
    files = scenario.publish(
        [Event("a", "api_call", 1, utc(2026, 11, 1)), Event("a", "api_call", 1, utc(2026, 11, 2))],
        received_at=utc(2026, 11, 2),
    )
    second = files[1].read_bytes()
    files[1].unlink()
    requests, cursor = _evaluate(None)
    assert [r.partition_key for r in requests] == ["2026-11-01"]
    files[1].write_bytes(second)
    requests, cursor = _evaluate(cursor)
    assert [(r.partition_key, r.run_key) for r in requests] == [
        ("2026-11-02", "events:2026-11-02:1")
    ]
    assert json.loads(cursor or "{}") == {"seq": 1, "dates": ["2026-11-01", "2026-11-02"]}
    assert _evaluate(cursor)[0] == []


def test_no_events_yet_requests_nothing(scenario: Scenario) -> None:
    assert _evaluate(None) == ([], None)


@pytest.mark.parametrize("schedule", [hourly_usage_refresh, daily_cycle_close])
def test_schedules_bill_as_of_their_scheduled_moment(schedule: dg.ScheduleDefinition) -> None:
    moment = datetime(2026, 11, 24, 1, 30, tzinfo=UTC)
    context = dg.build_schedule_context(scheduled_execution_time=moment)
    request = schedule.evaluate_tick(context).run_requests
    assert request is not None
    assert [r.tags[AS_OF_TAG] for r in request] == [moment.isoformat()]
