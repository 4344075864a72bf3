"""GET /api/billing/notifications and POST /notifications/mark-read.

Notices come from the pipeline's publication and from the ingest API, which raises them the
moment usage crosses a threshold; both give a notice the same id, so each is listed once.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.billing_api.world import Tenant, World
from tests.support.server import wait_until
from tollgate.control.models import RaisedNotification


def _notices(world: World, tenant: Tenant, **params: Any) -> list[dict[str, Any]]:
    response = world.request("GET", "/notifications", tenant.key, params=params)
    assert response.status_code == 200, response.text
    notices: list[dict[str, Any]] = response.json()["notifications"]
    return notices


def test_published_notices_are_listed_newest_first(world: World) -> None:
    notices = _notices(world, world.tenants["acme"])
    kinds = [(n["type"], n["feature"], n["threshold_percent"]) for n in notices]
    # The current cycle's warning (three days ago) first, then the first cycle's end, then its
    # threshold crossings (calls crossed 75, 90 and 100 % with one event; tokens the day before).
    assert kinds[:2] == [("limit_warning", "api_calls", 75), ("billing_cycle_end", None, None)]
    assert sorted(kinds[2:]) == sorted(
        [
            ("limit_exceeded", "api_calls", 100),
            ("limit_warning", "api_calls", 90),
            ("limit_warning", "api_calls", 75),
            ("limit_exceeded", "ai_tokens", 100),
            ("limit_warning", "ai_tokens", 90),
            ("limit_warning", "ai_tokens", 75),
        ]
    )
    created = [n["created_at"] for n in notices]
    assert created == sorted(created, reverse=True)
    warning = notices[0]
    assert warning["title"] == "API calls at 75% of the limit"
    assert warning["severity"] == "warning"
    assert warning["is_read"] is False
    assert warning["read_at"] is None


def test_marking_read_hides_a_notice_at_once(world: World) -> None:
    nell = world.tenants["nell"]
    [warning] = [n for n in _notices(world, nell) if n["type"] == "limit_warning"]
    assert warning["feature"] == "api_calls"
    response = world.request(
        "POST", "/notifications/mark-read", nell.key, json={"notification_ids": [warning["id"]]}
    )
    assert response.status_code == 200, response.text
    [mark] = response.json()["notifications"]
    assert mark["id"] == warning["id"]
    assert warning["id"] not in {n["id"] for n in _notices(world, nell)}
    [read] = [n for n in _notices(world, nell, include_read="true") if n["id"] == warning["id"]]
    assert read["is_read"] is True
    assert read["read_at"] == mark["read_at"]
    # Marking it again keeps the first read time.
    again = world.request(
        "POST", "/notifications/mark-read", nell.key, json={"notification_ids": [warning["id"]]}
    )
    assert again.json()["notifications"] == [mark]


def test_a_notice_raised_live_is_listed_once_the_api_records_it(world: World) -> None:
    # The free plan allows 1,000 calls (hard): 800 is 80 %, a warning at 75 %.
    tenant = world.tenant("free")
    event = {
        "event_id": "calls-1",
        "customer_id": tenant.id,
        "event_type": "api_call",
        "feature": "notes.list",
        "quantity": "800",
        "unit": "call",
    }
    assert world.ingest([event]).status_code == 200
    wait_until(lambda: _notices(world, tenant), timeout=10, what="the live notice")
    [notice] = _notices(world, tenant)
    assert (notice["type"], notice["severity"], notice["threshold_percent"]) == (
        "limit_warning",
        "warning",
        75,
    )
    assert notice["title"] == "API calls at 75% of the limit"
    marked = world.request(
        "POST", "/notifications/mark-read", tenant.key, json={"notification_ids": [notice["id"]]}
    )
    assert marked.status_code == 200
    assert _notices(world, tenant) == []


def test_a_notice_both_published_and_raised_is_listed_once(world: World) -> None:
    dana = world.tenants["dana"]
    before = _notices(world, dana, include_read="true")
    assert before, "dana's first cycle published notices"
    published = before[-1]
    control = world.control()
    raised = RaisedNotification(
        notification_id=published["id"],
        customer_id=dana.id,
        notification_type=published["type"],
        severity=published["severity"],
        feature=published["feature"],
        threshold_percent=published["threshold_percent"],
        window_start=world.first_cycle_start,
        window_end=world.first_cycle_start + timedelta(days=30),
        created_at=world.first_cycle_start,
        raised_at=world.now,
        title=published["title"],
        message=published["message"],
    )
    control.raise_notification(raised)
    assert _notices(world, dana, include_read="true") == before


@pytest.mark.parametrize(
    ("ids", "status", "code"),
    [
        (["ntf_000000000000000000000000"], 404, "unknown_notification"),
        ([], 400, "invalid_request"),
        (["x" * 201], 400, "invalid_request"),
        ([""], 400, "invalid_request"),
        (["ntf_1"] * 101, 400, "invalid_request"),
    ],
    ids=["unknown", "none", "too long", "empty", "too many"],
)
def test_bad_marks_are_refused(world: World, ids: list[str], status: int, code: str) -> None:
    tenant = world.tenant("starter")
    response = world.request(
        "POST", "/notifications/mark-read", tenant.key, json={"notification_ids": ids}
    )
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code


def test_one_unknown_id_marks_nothing(world: World) -> None:
    acme = world.tenants["acme"]
    known = _notices(world, world.tenants["acme"])[0]["id"]
    body = {"notification_ids": [known, "ntf_000000000000000000000000"]}
    response = world.as_admin("POST", "/notifications/mark-read", acme.id, json=body)
    assert response.status_code == 404
    assert known in {n["id"] for n in _notices(world, acme)}
    assert world.control().read_notifications(acme.id) == {}
