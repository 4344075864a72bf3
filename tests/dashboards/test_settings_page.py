"""The Settings page: notification preferences, spend alerts and budget, and marking notices
read, as the API does them.

Every test uses customers of its own (``World.tenant``) with notices raised for them in the
control plane, so the billed customers other tests assert on are left as they were.
"""

from __future__ import annotations

from typing import Any

from streamlit.testing.v1 import AppTest

from tests.billing_api.test_notification_preferences import ALL_ON, raise_notices
from tests.billing_api.world import Tenant, World
from tests.dashboards.conftest import PAGES, signed_in
from tests.support.server import wait_until


def _settings(token: str) -> AppTest:
    app = signed_in(token)
    app.switch_page(str(PAGES / "settings.py")).run()
    assert not app.exception
    return app


def _api_notices(world: World, tenant: Tenant, **params: Any) -> list[dict[str, Any]]:
    response = world.request("GET", "/notifications", tenant.key, params=params)
    assert response.status_code == 200, response.text
    notices: list[dict[str, Any]] = response.json()["notifications"]
    return notices


def _listed(app: AppTest) -> list[str]:
    """The ids of the unread notices the page offers to mark read, top to bottom."""
    prefix = "notify_read_"
    keys = [button.key for button in app.button if button.key and button.key.startswith(prefix)]
    return [key.removeprefix(prefix) for key in keys if not key.startswith("notify_read_all_")]


def _headings(app: AppTest) -> list[str]:
    return [heading.value for heading in app.subheader]


def test_saving_preferences_persists_and_mutes_notices(world: World) -> None:
    tenant = world.tenant()
    raise_notices(world, tenant)
    app = _settings(tenant.key)
    assert app.title[0].value == f"Settings · {tenant.id}"
    assert all(app.checkbox(key=f"notify_type_{tenant.id}_{kind}").value for kind in ALL_ON)
    assert app.multiselect(key=f"notify_thresholds_{tenant.id}").value == [75, 90, 100]
    assert "Unread notifications (5)" in _headings(app)

    app.checkbox(key=f"notify_type_{tenant.id}_billing_cycle_end").uncheck()
    app.multiselect(key=f"notify_thresholds_{tenant.id}").set_value([90, 100])
    app.button(key=f"notify_save_{tenant.id}").click().run()

    assert not app.exception
    assert [s.value for s in app.success] == ["Notification preferences saved."]
    response = world.request("GET", "/notification-preferences", tenant.key)
    assert response.status_code == 200, response.text
    saved = response.json()
    assert saved["types"] == {**ALL_ON, "billing_cycle_end": False}
    assert saved["thresholds"] == [90, 100]
    # The page lists what the API lists: the 75 % warning and the cycle's end are muted.
    shown = [n["id"] for n in _api_notices(world, tenant)]
    assert len(shown) == 3
    assert _listed(app) == shown
    assert "Unread notifications (3)" in _headings(app)

    # Reloaded, the form shows what was saved.
    again = _settings(tenant.key)
    assert not again.checkbox(key=f"notify_type_{tenant.id}_billing_cycle_end").value
    assert again.multiselect(key=f"notify_thresholds_{tenant.id}").value == [90, 100]


def test_muting_a_type_updates_the_overview_at_once(world: World) -> None:
    tenant = world.tenant()
    raise_notices(world, tenant)
    app = signed_in(tenant.key)  # the Overview, now cached for 30 s
    assert "Unread notifications (5)" in _headings(app)

    app.switch_page(str(PAGES / "settings.py")).run()
    app.checkbox(key=f"notify_type_{tenant.id}_limit_warning").uncheck()
    app.button(key=f"notify_save_{tenant.id}").click().run()
    assert not app.exception

    assert {n["type"] for n in _api_notices(world, tenant)} == {
        "limit_exceeded",
        "billing_cycle_end",
        "payment_failed",
    }
    app.switch_page(str(PAGES / "overview.py")).run()
    assert not app.exception
    assert "Unread notifications (3)" in _headings(app)


def test_marking_read_is_what_the_api_sees(world: World) -> None:
    tenant = world.tenant()
    raise_notices(world, tenant)
    app = signed_in(tenant.key)  # caches the Overview's five unread notices
    app.switch_page(str(PAGES / "settings.py")).run()
    newest, *rest = _listed(app)
    assert [newest, *rest] == [n["id"] for n in _api_notices(world, tenant)]

    app.button(key=f"notify_read_{newest}").click().run()

    assert not app.exception
    assert [s.value for s in app.success] == ["Marked 1 notification read."]
    assert _listed(app) == rest
    assert [n["id"] for n in _api_notices(world, tenant)] == rest
    [read] = [n for n in _api_notices(world, tenant, include_read="true") if n["is_read"]]
    assert read["id"] == newest
    assert app.expander[0].label == "Read notifications (1)"

    app.button(key=f"notify_read_all_{tenant.id}").click().run()

    assert not app.exception
    assert [s.value for s in app.success] == ["Marked 4 notifications read."]
    assert _listed(app) == []
    assert _api_notices(world, tenant) == []
    assert app.expander[0].label == "Read notifications (5)"
    app.switch_page(str(PAGES / "overview.py")).run()
    assert "Unread notifications (0)" in _headings(app)


def test_a_customer_sees_only_their_own_notices(world: World) -> None:
    mine, theirs = world.tenant(), world.tenant()
    my_ids = raise_notices(world, mine)
    their_ids = raise_notices(world, theirs)

    app = _settings(mine.key)

    assert sorted(_listed(app)) == sorted(my_ids)
    assert not set(_listed(app)) & set(their_ids)
    # Saving changes nobody else's preferences.
    app.checkbox(key=f"notify_type_{mine.id}_payment_failed").uncheck()
    app.button(key=f"notify_save_{mine.id}").click().run()
    response = world.request("GET", "/notification-preferences", theirs.key)
    assert response.json()["types"] == ALL_ON
    assert len(_api_notices(world, theirs)) == len(their_ids)


def test_an_admin_switching_customers_gets_each_ones_own_form(world: World) -> None:
    first, second = world.tenant(), world.tenant()
    app = signed_in(world.admin_key)
    app.sidebar.selectbox[0].select(first.id).run()
    app.switch_page(str(PAGES / "settings.py")).run()
    assert app.title[0].value == f"Settings · {first.id}", [t.value for t in app.title]
    app.checkbox(key=f"notify_type_{first.id}_limit_warning").uncheck()

    # Switching before saving: the second customer's form shows the second's preferences,
    # and saving it changes the second customer only as asked.
    app.sidebar.selectbox[0].select(second.id).run()
    assert not app.exception
    assert app.title[0].value == f"Settings · {second.id}"
    assert app.checkbox(key=f"notify_type_{second.id}_limit_warning").value
    app.button(key=f"notify_save_{second.id}").click().run()
    for tenant in (first, second):
        response = world.request("GET", "/notification-preferences", tenant.key)
        assert response.status_code == 200, response.text
        assert response.json()["types"] == ALL_ON


def _metrics(app: AppTest) -> dict[str, str]:
    return {metric.label: metric.value for metric in app.metric}


def test_spend_alerts_and_budget_are_saved_as_the_api_saves_them(world: World) -> None:
    tenant = world.tenant()  # Starter, subscribed after the pipeline ran: 29.00 so far
    app = _settings(tenant.key)
    assert "Spend alerts and budget" in _headings(app)
    assert _metrics(app) == {"Spent this cycle": "USD 29.00", "Budget remaining": "no budget"}

    app.text_area(key=f"spend_alerts_{tenant.id}").input("20.00\n500, 250.5")
    app.text_input(key=f"spend_budget_{tenant.id}").input("1000")
    app.button(key=f"spend_save_{tenant.id}").click().run()

    assert not app.exception
    assert [s.value for s in app.success] == ["Spend alerts and budget saved."]
    response = world.request("GET", "/spend-thresholds", tenant.key)
    assert response.status_code == 200, response.text
    saved = response.json()
    assert [a["amount"]["amount"] for a in saved["alerts"]] == [2000, 25050, 50000]
    assert saved["budget"]["amount"]["amount"] == 100_000
    assert _metrics(app) == {"Spent this cycle": "USD 29.00", "Budget remaining": "USD 971.00"}
    # The form shows what was saved, exactly as the API holds it.
    assert app.text_area(key=f"spend_alerts_{tenant.id}").value == "20.00\n250.50\n500.00"
    assert app.text_input(key=f"spend_budget_{tenant.id}").value == "1000.00"
    # The 20.00 alert was passed already: the ingest API's engine, which learns of the change
    # through its change feed (this page is another process's way in), raises it at once.
    wait_until(
        lambda: (
            [
                n["title"]
                for n in world.request("GET", "/notifications", tenant.key).json()["notifications"]
                if n["type"] == "spend_alert"
            ]
            == ["Spend passed $20.00"]
        ),
        timeout=5,
        what="the spend alert already passed",
    )


def test_a_refused_amount_says_why_and_saves_nothing(world: World) -> None:
    tenant = world.tenant()
    app = _settings(tenant.key)

    app.text_area(key=f"spend_alerts_{tenant.id}").input("12.345")
    app.button(key=f"spend_save_{tenant.id}").click().run()

    assert not app.exception
    [error] = app.error
    assert error.value.startswith("The spend alerts and budget were not saved:")
    assert "3 decimals, but USD amounts have 2" in error.value
    assert world.request("GET", "/spend-thresholds", tenant.key).json()["alerts"] == []
