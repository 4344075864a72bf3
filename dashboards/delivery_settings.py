"""The Settings page's delivery section: the customer's webhook endpoints (added and removed
through the billing API's own functions, in-process) and their recent deliveries."""

from __future__ import annotations

from datetime import UTC

import polars as pl
import streamlit as st

from dashboards.customer_data import customer_caller
from dashboards.resources import Sources, catalogue, control_engine
from ingest_api.billing.models_delivery import WebhookEndpointIn
from ingest_api.billing.routes_webhook_endpoints import (
    create_endpoint,
    delete_endpoint,
    list_endpoints,
)
from ingest_api.events.errors import RequestError
from tollgate.control.deliveries import DeliveryLedger
from tollgate.control.service import ControlService

RECENT = 10
# The secret of an endpoint just added: shown once, on the rerun after adding it.
NEW_SECRET = "tollgate_new_webhook_secret"  # noqa: S105 (a session key, not a secret)


def email_address(srcs: Sources, customer_id: str) -> str | None:
    control = ControlService(
        control_engine(srcs.control_url), catalogue(srcs.plans_file), actor="dashboard"
    )
    return control.get_customer(customer_id).email


def section(srcs: Sources, customer_id: str, key_id: str) -> None:
    st.subheader("Webhooks")
    st.caption(
        "Every notice you receive is also POSTed to these endpoints, signed with the "
        "endpoint's secret (see docs/notifications.md for how to verify it)."
    )
    caller = customer_caller(srcs, customer_id, key_id)
    shown = st.session_state.pop(NEW_SECRET, None)
    if shown is not None and shown[0] == customer_id:
        st.success("Endpoint added. Its signing secret, shown only now:")
        st.code(shown[1], language=None)
    for endpoint in list_endpoints(caller).endpoints:
        text, action = st.columns([5, 1], vertical_alignment="center")
        text.markdown(
            f"`{endpoint.url}` · added {endpoint.created_at.astimezone(UTC):%d %b %Y}"
            + (f" · {endpoint.description}" if endpoint.description else "")
        )
        if action.button("Remove", key=f"webhook_remove_{endpoint.id}"):
            delete_endpoint(caller, endpoint.id)
            st.rerun()
    with st.form(f"webhook_add_{customer_id}", clear_on_submit=True):
        url = st.text_input(
            "Endpoint URL",
            placeholder="https://example.com/tollgate",
            key=f"webhook_url_{customer_id}",
        )
        added = st.form_submit_button("Add endpoint", key=f"webhook_add_{customer_id}_submit")
    if added:
        try:
            created = create_endpoint(caller, WebhookEndpointIn(url=url.strip()))
        except (RequestError, ValueError) as refused:
            st.error(f"The endpoint was not added: {_why(refused)}")
        else:
            st.session_state[NEW_SECRET] = (customer_id, created.secret)
            st.rerun()

    deliveries = DeliveryLedger(control_engine(srcs.control_url)).log(
        customer_id=customer_id, limit=RECENT
    )
    st.subheader("Recent deliveries")
    if not deliveries:
        st.caption("Nothing sent yet.")
        return
    st.dataframe(
        pl.DataFrame(
            [
                {
                    "Created": d.created_at,
                    "Notice": d.title,
                    "Channel": d.channel,
                    "Status": d.status,
                    "Attempts": d.attempts,
                    "Last error": d.last_error or "",
                }
                for d in deliveries
            ]
        ),
        hide_index=True,
    )


def _why(error: Exception) -> str:
    if isinstance(error, RequestError):
        return error.message
    return str(error).splitlines()[0]
