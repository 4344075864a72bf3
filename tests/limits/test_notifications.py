"""Threshold notices reach the customer at once, once per window and threshold."""

from __future__ import annotations

from tests.limits.conftest import LiveApp
from tests.support.server import wait_until
from tollgate.billing.identifiers import notification_id


def _raised(app: LiveApp, customer_id: str) -> list[tuple[str, int | None]]:
    return [
        (n.notification_type, n.threshold_percent)
        for n in app.control.raised_notifications(customer_id)
    ]


def test_warnings_at_75_and_90_and_the_exceeded_notice_are_raised_once_each(
    live_app: LiveApp,
) -> None:
    live_app.subscribe("cus_n", "free")  # api_calls: hard limit 1000
    live_app.post_usage("cus_n", 740)
    live_app.post_usage("cus_n", 10)  # 750: 75 %
    wait_until(
        lambda: _raised(live_app, "cus_n") == [("limit_warning", 75)],
        timeout=5,
        what="the 75% warning",
    )
    live_app.post_usage("cus_n", 1)
    live_app.post_usage("cus_n", 150, 99)  # 901, then 1000: 90 % and 100 % in one batch
    live_app.post_usage("cus_n", 5)  # refused: no new notice
    wait_until(
        lambda: len(_raised(live_app, "cus_n")) == 3, timeout=5, what="the 90% and 100% notices"
    )

    notices = live_app.control.raised_notifications("cus_n")
    assert sorted(_raised(live_app, "cus_n"), key=lambda n: n[1] or 0) == [
        ("limit_warning", 75),
        ("limit_warning", 90),
        ("limit_exceeded", 100),
    ]
    exceeded = next(n for n in notices if n.threshold_percent == 100)
    assert exceeded.severity == "exceeded"
    assert exceeded.title == "API calls limit reached"
    assert "Further use is refused" in exceeded.message
    # The pipeline derives the same id from the same facts, so the two are one notification.
    assert exceeded.notification_id == notification_id(
        "cus_n", "limit_exceeded", "api_calls", exceeded.window_start, 100
    )


def test_no_notice_is_raised_twice_across_a_restart(live_app: LiveApp) -> None:
    from tests.limits.conftest import start_live_app

    live_app.subscribe("cus_twice", "free")
    live_app.post_usage("cus_twice", 800)
    wait_until(lambda: len(_raised(live_app, "cus_twice")) == 1, timeout=5, what="75% warning")
    live_app.http.__exit__(None, None, None)

    _, restarted = start_live_app(
        live_app.settings.data_dir, live_app.settings.control_database_url
    )
    with restarted:
        live_app.http = restarted
        assert live_app.check("cus_twice")["used"] == "800"
        live_app.post_usage("cus_twice", 50)  # 850: nothing new
        live_app.post_usage("cus_twice", 60)  # 910: 90 %
        wait_until(lambda: len(_raised(live_app, "cus_twice")) == 2, timeout=5, what="90%")

    assert sorted(p for _, p in _raised(live_app, "cus_twice") if p) == [75, 90]
