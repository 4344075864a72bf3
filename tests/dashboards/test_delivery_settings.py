"""The Settings page's delivery parts: e-mailing notices, webhook endpoints, recent deliveries;
each checked against what the billing API holds."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from tests.billing_api.world import World
from tests.dashboards.conftest import PAGES, signed_in


def _settings(token: str) -> AppTest:
    app = signed_in(token)
    app.switch_page(str(PAGES / "settings.py")).run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def test_notices_are_e_mailed_once_turned_on(world: World) -> None:
    tenant = world.tenant()
    app = _settings(tenant.key)
    assert app.checkbox(key=f"notify_email_{tenant.id}").disabled, "no address to send to"

    world.control().update_customer(tenant.id, email="ops@tenant.example")
    app = _settings(tenant.key)
    email = app.checkbox(key=f"notify_email_{tenant.id}")
    assert email.label == "Also e-mail these notices to ops@tenant.example"
    assert not email.value
    email.check()
    app.button(key=f"notify_save_{tenant.id}").click().run()

    assert [s.value for s in app.success] == ["Notification preferences saved."]
    saved = world.request("GET", "/notification-preferences", tenant.key).json()
    assert saved["email"] is True
    assert _settings(tenant.key).checkbox(key=f"notify_email_{tenant.id}").value


def test_a_webhook_endpoint_is_added_with_its_secret_shown_once_and_removed(
    world: World,
) -> None:
    tenant = world.tenant()
    app = _settings(tenant.key)
    app.text_input(key=f"webhook_url_{tenant.id}").input("ftp://example.com/hooks")
    app.button(key=f"webhook_add_{tenant.id}_submit").click().run()
    assert [e.value for e in app.error] == [
        "The endpoint was not added: 'ftp://example.com/hooks' is not an absolute http(s) "
        "URL; give e.g. https://example.com/tollgate"
    ]

    app.text_input(key=f"webhook_url_{tenant.id}").input("https://hooks.example/tollgate")
    app.button(key=f"webhook_add_{tenant.id}_submit").click().run()
    assert not app.exception
    [secret] = [c.value for c in app.code]
    assert secret.startswith("whsec_")
    listed = world.request("GET", "/webhook-endpoints", tenant.key).json()["endpoints"]
    assert [e["url"] for e in listed] == ["https://hooks.example/tollgate"]
    assert not _settings(tenant.key).code, "the secret is shown once"

    app.button(key=f"webhook_remove_{listed[0]['id']}").click().run()
    assert not app.exception
    assert world.request("GET", "/webhook-endpoints", tenant.key).json()["endpoints"] == []
    assert "Recent deliveries" in [h.value for h in app.subheader]
