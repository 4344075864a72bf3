"""The Invoices & plan page: invoices as ``GET /invoices``, the preview as ``POST /prorate``, and
changes that really change the subscription. Changes are made on customers of their own."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import DownloadButton

from dashboards.auth import CUSTOMER_PICK_KEY
from dashboards.customer_billing import format_unit_amount, invoice_pdf
from dashboards.resources import sources
from tests.billing_api.world import World
from tests.dashboards.conftest import key_id, signed_in
from tests.support.server import wait_until
from tollgate.billing.money import format_money

PAGE = "app_pages/billing.py"


def _get(world: World, path: str, token: str, **params: Any) -> dict[str, Any]:
    response = world.request("GET", path, token, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _money(money: dict[str, Any]) -> str:
    return format_money(money["amount"], money["currency"])


def _plan_now(world: World, customer_id: str) -> str | None:
    active = world.control().active_plan(customer_id)
    return active.plan_name if active else None


def _billing_page(token: str) -> AppTest:
    app = signed_in(token)
    app.switch_page(PAGE).run()
    assert not app.exception, app.exception
    return app


def _tables(app: AppTest, column: str) -> list[list[dict[str, Any]]]:
    """Every table with ``column``, in page order."""
    return [
        frame.value.to_dict("records") for frame in app.dataframe if column in frame.value.columns
    ]


def _metrics(app: AppTest) -> dict[str, str]:
    return {metric.label: metric.value for metric in app.metric}


def _shown_text(app: AppTest) -> str:
    """Everything the page writes, tables included, to look for what must not be there."""
    parts = [str(element.value) for element in app.markdown]
    parts += [expander.label for expander in app.expander]
    parts += [frame.value.to_csv() for frame in app.dataframe]
    return "\n".join(parts)


def test_the_invoices_are_those_of_get_invoices(world: World) -> None:
    token = world.tenants["acme"].key
    body = _get(world, "/invoices", token)
    app = _billing_page(token)

    assert app.title[0].value == "Invoices & plan · acme"
    invoices = body["invoices"]
    assert {i["status"] for i in invoices} == {"finalized", "draft"}  # the fixture's two cycles
    [listed] = _tables(app, "Invoice")
    assert [(row["Invoice"], row["Status"], row["Total"]) for row in listed] == [
        (i["number"] or f"Draft {i['id']}", i["status"], _money(i["total"])) for i in invoices
    ]
    # One expander per invoice, its lines as the API lists them.
    expanders = list(app.expander)
    assert len(expanders) == len(invoices)
    for invoice, expander in zip(invoices, expanders, strict=True):
        assert expander.label.endswith(f" · {invoice['status']} · {_money(invoice['total'])}")
        shown = expander.dataframe[0].value.to_dict("records")
        assert [(row["Line"], row["Amount"]) for row in shown] == [
            (line["description"], _money(line["amount"])) for line in invoice["lines"]
        ]
        assert [row["Unit price"] for row in shown] == [
            format_unit_amount(line["unit_amount"], line["amount"]["currency"])
            if line["unit_amount"] is not None
            else ""
            for line in invoice["lines"]
        ]
    finalized = next(i for i in invoices if i["status"] == "finalized")
    # acme's first cycle: the 79.00 base fee and 100,000 tokens at 0.1 cent, 1,000 calls at
    # 0.006 cent: 7,900 + 10,000 + 6 cents.
    assert _money(finalized["total"]) == "USD 179.06"

    summary = _get(world, "/summary", token)
    metrics = _metrics(app)
    assert metrics["Plan"] == summary["plan"]["display_name"] == "Professional"
    assert metrics["Status"] == "Active"
    assert metrics["Base price"] == "USD 79.00"


def test_a_finalized_invoice_offers_its_pdf_and_a_draft_does_not(world: World) -> None:
    token = world.tenants["acme"].key
    invoices = _get(world, "/invoices", token)["invoices"]
    app = _billing_page(token)

    buttons = {button.key: button for button in app.get("download_button")}
    finalized = [i for i in invoices if i["status"] == "finalized"]
    drafts = [i for i in invoices if i["status"] == "draft"]
    assert finalized
    assert drafts
    assert set(buttons) == {f"invoice_pdf_{invoice['id']}" for invoice in finalized}
    for invoice in finalized:
        button = buttons[f"invoice_pdf_{invoice['id']}"]
        assert isinstance(button, DownloadButton)
        assert button.label == "Download PDF"
        # The bytes behind the button are the API's PDF, byte for byte.
        served = world.request("GET", f"/invoices/{invoice['id']}/pdf", token)
        assert served.status_code == 200, served.text
        assert invoice_pdf(sources(), "acme", key_id(token), invoice["id"]) == served.content
    for invoice in drafts:
        assert f"invoice_pdf_{invoice['id']}" not in buttons


def test_unit_prices_keep_every_digit() -> None:
    assert format_unit_amount("0.15", "usd") == "USD 0.0015"
    assert format_unit_amount("2900", "usd") == "USD 29.00"
    assert format_unit_amount("0.006", "usd") == "USD 0.00006"
    assert format_unit_amount("5", "jpy") == "JPY 5"


def test_a_plan_change_is_previewed_as_post_prorate_and_made_on_confirm(world: World) -> None:
    tenant = world.tenant("starter")
    app = _billing_page(tenant.key)
    assert _metrics(app)["Plan"] == "Starter"

    app.selectbox(key=f"billing_plan_{tenant.id}").set_value("professional").run()
    assert not app.exception
    caption = next(c.value for c in app.caption if c.value.startswith("Previewed at "))
    at = caption.removeprefix("Previewed at ").split(" ")[0]
    response = world.request(
        "POST", "/prorate", tenant.key, json={"plan": "professional", "at": at}
    )
    assert response.status_code == 200, response.text
    expected = response.json()
    metrics = _metrics(app)
    assert metrics["Credit"] == _money(expected["credit"])
    assert metrics["Charge"] == _money(expected["charge"])
    assert metrics["Net on this cycle's invoice"] == _money(expected["net"])
    assert expected["timing"] == "now"  # an upgrade
    assert expected["credit"]["amount"] < 0 < expected["charge"]["amount"]
    assert _plan_now(world, tenant.id) == "starter"  # nothing made yet

    app.button(key=f"billing_confirm_{tenant.id}").click().run()

    assert not app.exception
    assert _plan_now(world, tenant.id) == "professional"
    wait_until(
        lambda: _get(world, "/summary", tenant.key)["plan"]["name"] == "professional",
        timeout=10,
        what="the API to see the new plan",
    )
    [change] = [c for c in world.control().plan_changes(tenant.subscription_id or "") if c.to_plan]
    assert [s.value for s in app.success] == [
        f"Plan changed to Professional, effective {change.at:%d %b %Y %H:%M} UTC: credit "
        f"{format_money(change.credit, 'usd')}, charge {format_money(change.charge, 'usd')}, "
        f"net {format_money(change.credit + change.charge, 'usd')} on this cycle's invoice."
    ]
    assert _metrics(app)["Plan"] == "Professional"  # read afresh after the change


def test_cancellation_asks_first_and_a_refusal_is_an_error(world: World) -> None:
    tenant = world.tenant("starter")
    subscription = tenant.subscription_id
    assert subscription is not None
    app = _billing_page(tenant.key)

    app.radio(key=f"billing_cancel_when_{tenant.id}").set_value(False).run()
    app.button(key=f"billing_cancel_{tenant.id}").click().run()
    assert not app.exception
    assert world.control().get_subscription(subscription).status == "active"  # not yet
    [asking] = app.warning
    assert asking.value.startswith(f"Cancel the subscription {subscription}?")
    app.button(key=f"billing_cancel_no_{tenant.id}").click().run()
    assert not app.warning
    assert world.control().get_subscription(subscription).status == "active"

    # Someone else ends it meanwhile; then the page's change is refused, shown, not raised.
    app.selectbox(key=f"billing_plan_{tenant.id}").set_value("professional").run()
    ended = world.request(
        "DELETE", f"/subscription/{subscription}", tenant.key, params={"at_period_end": "false"}
    )
    assert ended.status_code == 200, ended.text
    app.button(key=f"billing_confirm_{tenant.id}").click().run()
    assert not app.exception
    assert any("has ended" in e.value or "canceled" in e.value for e in app.error), [
        e.value for e in app.error
    ]
    assert world.control().active_plan(tenant.id) is None
    assert "No active subscription." in [i.value for i in app.info]


def test_cancel_now_ends_the_subscription_with_the_credit_recorded(world: World) -> None:
    tenant = world.tenant("starter")
    subscription = tenant.subscription_id
    assert subscription is not None
    app = _billing_page(tenant.key)

    app.radio(key=f"billing_cancel_when_{tenant.id}").set_value(False).run()
    app.button(key=f"billing_cancel_{tenant.id}").click().run()
    app.button(key=f"billing_cancel_yes_{tenant.id}").click().run()

    assert not app.exception
    after = world.control().get_subscription(subscription)
    assert after.status == "canceled"
    [ending] = [c for c in world.control().plan_changes(subscription) if c.to_plan is None]
    assert ending.credit < 0  # the unused part of the base price
    assert [s.value for s in app.success] == [
        f"Subscription canceled: it ends {ending.at:%d %b %Y %H:%M} UTC; credit "
        f"{format_money(ending.credit, 'usd')}."
    ]
    assert _get(world, "/summary", tenant.key)["subscription"] is None


def test_cancel_at_period_end_keeps_it_until_then(world: World) -> None:
    tenant = world.tenant("starter")
    app = _billing_page(tenant.key)

    app.button(key=f"billing_cancel_{tenant.id}").click().run()  # at period end: the default
    app.button(key=f"billing_cancel_yes_{tenant.id}").click().run()

    assert not app.exception
    summary = _get(world, "/summary", tenant.key)["subscription"]
    assert summary["status"] == "active"
    assert summary["cancel_at"] is not None
    assert _metrics(app)["Status"].startswith("Ends ")
    assert any(i.value.startswith("Already set to end at") for i in app.info)


def test_a_customer_key_sees_only_its_own_invoices(world: World) -> None:
    acme = _get(world, "/invoices", world.tenants["acme"].key)["invoices"]
    pp = _get(world, "/invoices", world.tenants["pp"].key)["invoices"]
    app = _billing_page(world.tenants["acme"].key)
    app.session_state[CUSTOMER_PICK_KEY] = "pp"  # forged: the key decides
    app.run()

    assert not app.exception
    assert app.title[0].value == "Invoices & plan · acme"
    [listed] = _tables(app, "Invoice")
    assert len(listed) == len(acme)
    text = _shown_text(app)
    for invoice in pp:
        assert invoice["id"] not in text
        if invoice["number"]:
            assert invoice["number"] not in text
    assert "llama-3-70b" not in text  # a line of pp's


def test_an_admin_picks_the_customer(world: World) -> None:
    app = signed_in(world.admin_key)
    app.switch_page(PAGE).run()
    app.sidebar.selectbox(key=CUSTOMER_PICK_KEY).set_value("pp").run()

    assert not app.exception
    assert app.title[0].value == "Invoices & plan · pp"
    body = world.as_admin("GET", "/invoices", "pp").json()
    [listed] = _tables(app, "Invoice")
    assert [(row["Status"], row["Total"]) for row in listed] == [
        (i["status"], _money(i["total"])) for i in body["invoices"]
    ]
    assert any(Decimal(i["total"]["decimal"]) > 0 for i in body["invoices"])


def test_a_customer_without_subscription_or_usage(world: World) -> None:
    tenant = world.tenant(None)
    app = _billing_page(tenant.key)

    assert [i.value for i in app.info] == ["No active subscription."]
    assert not app.dataframe  # no invoices, nothing to change or cancel
    app.switch_page("app_pages/usage.py").run()
    assert not app.exception
    assert "No usage in these days." in [i.value for i in app.info]
