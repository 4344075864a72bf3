"""Who may see what on the dashboard: the billing API's rules (ingest_api/billing/auth.py)."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from dashboards.auth import CUSTOMER_PICK_KEY, SESSION_KEY, Viewer
from tests.billing_api.world import BILLED, World
from tests.dashboards.conftest import APP, PAGES, TIMEOUT, key_id, signed_in
from tollgate.control.api_keys import KeyStore, Scope

NOT_VALID = "This API key is not valid: it is unknown or has been revoked."


def _titles(app: AppTest) -> list[str]:
    return [title.value for title in app.title]


def _refused(app: AppTest) -> list[str]:
    return [error.value for error in app.sidebar.error]


def test_signed_out_only_the_sign_in_page_is_listed(world: World) -> None:
    app = AppTest.from_file(str(APP), default_timeout=TIMEOUT).run()

    assert not app.exception
    assert _titles(app) == ["Tollgate"]
    for page in ("overview.py", "ingest.py"):
        with pytest.raises(ValueError, match="Could not find a navigation page"):
            app.switch_page(str(PAGES / page))


def test_a_customer_key_sees_its_own_customer_only(world: World) -> None:
    app = signed_in(world.tenants["nell"].key)

    assert not app.exception
    assert _titles(app) == ["Overview · nell"]
    assert app.session_state[SESSION_KEY] == Viewer(
        key_id(world.tenants["nell"].key), "nell", is_admin=False
    )
    assert not app.sidebar.selectbox  # nobody else to pick
    # Even a forged pick of another customer is ignored: the key decides.
    app.session_state[CUSTOMER_PICK_KEY] = "acme"
    app.run()
    assert _titles(app) == ["Overview · nell"]
    assert {m.label: m.value for m in app.metric}["Plan"] == "Free"


def test_a_customer_key_cannot_reach_the_admin_pages(world: World) -> None:
    app = signed_in(world.tenants["acme"].key)

    assert _titles(app) == ["Overview · acme"]
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        app.switch_page(str(PAGES / "ingest.py"))

    # Run directly, the page refuses on its own.
    direct = AppTest.from_file(str(PAGES / "ingest.py"), default_timeout=TIMEOUT)
    direct.session_state[SESSION_KEY] = Viewer(
        key_id(world.tenants["acme"].key), "acme", is_admin=False
    )
    direct.run()
    assert not direct.exception
    assert [e.value for e in direct.error] == [
        "This page is for operators: sign in with an admin key."
    ]
    assert _titles(direct) == []


def test_a_forged_session_is_not_trusted(world: World) -> None:
    # Claiming admin rights for a customer's key id does not make it an admin.
    direct = AppTest.from_file(str(PAGES / "ingest.py"), default_timeout=TIMEOUT)
    direct.session_state[SESSION_KEY] = Viewer(
        key_id(world.tenants["acme"].key), None, is_admin=True
    )
    direct.run()
    assert [e.value for e in direct.error] == [
        "This page is for operators: sign in with an admin key."
    ]
    assert _titles(direct) == []


def test_an_admin_picks_any_customer_and_sees_the_admin_pages(world: World) -> None:
    app = signed_in(world.admin_key)

    assert not app.exception
    (picker,) = app.sidebar.selectbox
    # Other tests add customers of their own to the shared world.
    assert set(BILLED) <= set(picker.options)
    for customer in ("pp", "acme"):
        app.sidebar.selectbox[0].select(customer).run()  # elements are per run: look again
        assert not app.exception
        assert _titles(app) == [f"Overview · {customer}"]
        shown = {m.label: m.value for m in app.metric}["Plan"]
        assert shown == world.settings.catalogue().plan(BILLED[customer]).display_name

    app.switch_page(str(PAGES / "ingest.py")).run()
    assert not app.exception
    assert _titles(app) == ["Ingested events"]


@pytest.mark.parametrize("token", ["tg_00000000_not-a-key", "hello"])
def test_a_wrong_key_is_refused(world: World, token: str) -> None:
    app = signed_in(token)

    assert not app.exception
    assert _refused(app) == [NOT_VALID]
    assert _titles(app) == ["Tollgate"]
    assert SESSION_KEY not in app.session_state


def test_a_revoked_key_is_refused_and_signs_its_sessions_out(world: World) -> None:
    keys = KeyStore(world.engine, actor="tests")
    revoked = keys.create("revoked-at-once", [Scope.READ], customer_id="dana")
    keys.revoke(revoked.key.key_id)
    app = signed_in(revoked.token)
    assert _refused(app) == [NOT_VALID]
    assert _titles(app) == ["Tollgate"]

    later = keys.create("revoked-later", [Scope.READ], customer_id="dana")
    session = signed_in(later.token)
    assert _titles(session) == ["Overview · dana"]
    keys.revoke(later.key.key_id)
    session.run()
    assert not session.exception
    assert _titles(session) == ["Tollgate"]
    assert SESSION_KEY not in session.session_state


@pytest.mark.parametrize("which", ["ingest_key", "read_key"])
def test_a_service_key_is_refused(world: World, which: str) -> None:
    app = signed_in(getattr(world, which))

    assert not app.exception
    (message,) = _refused(app)
    assert "is a service key" in message
    assert "acts for no customer" in message
    assert _titles(app) == ["Tollgate"]
    assert SESSION_KEY not in app.session_state
