"""Who is looking: sign-in with a Tollgate API key, and what each kind of key may see.

The rules are the billing API's (``ingest_api/billing/auth.py``): a customer's own key sees
that customer only; an admin key sees any customer (picked in the sidebar) and the operator
pages; a service key (ingest, read) without a customer acts for nobody, so it cannot sign in.

The key is checked against ``KeyStore`` by its SHA-256, as the API does; only the key's id
is kept in the session, never the key itself. The key is looked up again on every run, so
revoking it signs its sessions out at their next interaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NoReturn

import streamlit as st
from sqlalchemy import Engine

from dashboards.resources import catalogue, control_engine, sources
from tollgate.control.api_keys import ApiKey, KeyStore, Scope, hash_token
from tollgate.control.service import ControlService

SESSION_KEY = "tollgate_viewer"
CUSTOMER_PICK_KEY = "tollgate_customer_pick"
CUSTOMER_KEPT_KEY = "tollgate_customer_kept"


@dataclass(frozen=True, slots=True)
class Viewer:
    key_id: str
    customer_id: str | None  # a customer's own key; None for an admin
    is_admin: bool


class SignInRefusedError(ValueError):
    """The message says why, in words a person can act on."""


def viewer_for(key: ApiKey) -> Viewer:
    """The viewer a valid key signs in as; refuses keys that act for nobody here."""
    if key.customer_id is not None:
        return Viewer(key.key_id, key.customer_id, is_admin=False)
    if Scope.ADMIN in key.scopes:
        return Viewer(key.key_id, None, is_admin=True)
    raise SignInRefusedError(
        f"The key '{key.name}' is a service key ({', '.join(sorted(key.scopes))}) and acts for "
        "no customer. Sign in with a customer's key (tollgate keys create --customer <id>) or "
        "an admin key."
    )


def check_token(engine: Engine, token: str) -> Viewer:
    """The viewer for ``token``; ``SignInRefusedError`` if unknown, revoked or a service key."""
    # Revoked keys are not among the active ones, so they are refused like unknown ones.
    key = KeyStore(engine).active_by_hash().get(hash_token(token.strip()))
    if key is None:
        raise SignInRefusedError("This API key is not valid: it is unknown or has been revoked.")
    return viewer_for(key)


def _still_active(engine: Engine, key_id: str) -> ApiKey | None:
    return next((k for k in KeyStore(engine).active_by_hash().values() if k.key_id == key_id), None)


def viewer() -> Viewer | None:
    """Who is signed in, if anyone (and if their key has not been revoked since)."""
    signed_in: Viewer | None = st.session_state.get(SESSION_KEY)
    if signed_in is None:
        return None
    key = _still_active(control_engine(sources().control_url), signed_in.key_id)
    if key is None or viewer_for(key) != signed_in:
        del st.session_state[SESSION_KEY]
        return None
    return signed_in


def _sign_out() -> None:
    st.session_state.pop(SESSION_KEY, None)
    st.session_state.pop(CUSTOMER_PICK_KEY, None)
    st.session_state.pop(CUSTOMER_KEPT_KEY, None)


def sign_in_sidebar() -> Viewer | None:
    """The sign-in form in the sidebar, or who is signed in and a sign-out button."""
    current = viewer()
    with st.sidebar:
        if current is not None:
            who = "Admin" if current.is_admin else f"Customer {current.customer_id}"
            st.caption(f"Signed in: {who} (key {current.key_id})")
            st.button("Sign out", on_click=_sign_out)
            return current
        with st.form("sign_in"):
            token = st.text_input("API key", type="password", placeholder="tg_…")
            submitted = st.form_submit_button("Sign in")
        if not submitted or not token:
            return None
        try:
            signed_in = check_token(control_engine(sources().control_url), token)
        except SignInRefusedError as refused:
            st.error(str(refused))
            return None
        st.session_state[SESSION_KEY] = signed_in
        # Run again from the top, so the sidebar and navigation are the signed-in ones.
        st.rerun()


def _refuse(message: str) -> NoReturn:
    st.error(message)
    st.stop()


def require_customer() -> str:
    """The customer the page shows: a customer's key its own; an admin picks any customer."""
    current = viewer()
    if current is None:
        _refuse("Sign in with a Tollgate API key to see this page.")
    if current.customer_id is not None:
        return current.customer_id
    if not current.is_admin:
        _refuse("This key acts for no customer.")
    srcs = sources()
    control = ControlService(
        control_engine(srcs.control_url), catalogue(srcs.plans_file), actor="dashboard"
    )
    customers = [c.id for c in control.list_customers()]
    if not customers:
        _refuse("There are no customers yet.")
    # Streamlit drops a widget's state when another page is opened, so the pick is kept apart
    # too: an admin stays on the customer they picked from page to page.
    kept = st.session_state.get(CUSTOMER_KEPT_KEY)
    index = customers.index(kept) if kept in customers else 0
    picked = str(st.sidebar.selectbox("Customer", customers, index=index, key=CUSTOMER_PICK_KEY))
    st.session_state[CUSTOMER_KEPT_KEY] = picked
    return picked


def require_admin() -> Viewer:
    """The signed-in admin; anyone else sees an error and the page stops here."""
    current = viewer()
    if current is None or not current.is_admin:
        _refuse("This page is for operators: sign in with an admin key.")
    return current
