"""Deliveries (operators only): every notice's e-mail and webhook deliveries, each attempt, and
resending. Read live from the control plane (the delivery ledger), not from the marts."""

import polars as pl
import streamlit as st

from dashboards.auth import require_admin
from dashboards.formatting import format_count
from dashboards.resources import control_engine, sources
from tollgate.control.deliveries import Delivery, DeliveryLedger
from tollgate.control.errors import ControlError

STATUSES = ("all", "failed", "pending", "sending", "delivered")
SHOWN = 200

admin = require_admin()
st.title("Deliveries")
st.caption(
    "Notices sent by e-mail and webhook, newest first, with every attempt "
    "(see docs/notifications.md). Live from the control plane."
)
ledger = DeliveryLedger(control_engine(sources().control_url))
counts = ledger.counts()
columns = st.columns(4)
for column, status in zip(columns, ("delivered", "pending", "sending", "failed"), strict=True):
    column.metric(status.capitalize(), format_count(counts.get(status, 0)))

left, right = st.columns(2)
status = left.selectbox("Status", STATUSES, key="deliveries_status")
customer = right.text_input("Customer id", key="deliveries_customer").strip() or None
deliveries = ledger.log(
    customer_id=customer, status=None if status == "all" else status, limit=SHOWN
)
if not deliveries:
    st.info("No deliveries yet." if not counts else "No deliveries match.")
    st.stop()


def _row(delivery: Delivery) -> dict[str, object]:
    return {
        "Created": delivery.created_at,
        "Customer": delivery.customer_id,
        "Notice": delivery.title,
        "Channel": delivery.channel,
        "To": delivery.target,
        "Status": delivery.status,
        "Attempts": delivery.attempts,
        "Next attempt": delivery.next_attempt_at,
        "Last error": delivery.last_error or "",
        "Delivery": delivery.delivery_id,
    }


st.dataframe(pl.DataFrame([_row(d) for d in deliveries]), hide_index=True)
if len(deliveries) == SHOWN:
    st.caption(f"The newest {SHOWN}; narrow by status or customer to see others.")

st.subheader("Attempts")
chosen_id = st.selectbox(
    "Delivery",
    [d.delivery_id for d in deliveries],
    format_func=lambda i: next(
        f"{d.created_at:%d %b %H:%M} · {d.customer_id} · {d.channel} · {d.title}"
        for d in deliveries
        if d.delivery_id == i
    ),
    key="deliveries_chosen",
)
chosen = next(d for d in deliveries if d.delivery_id == chosen_id)
st.dataframe(
    pl.DataFrame(
        [
            {
                "Attempt": a.attempt,
                "Why": a.trigger,
                "Started": a.started_at,
                "Outcome": a.outcome or "running",
                "Code": a.status_code,
                "Took (ms)": a.duration_ms,
                "Error": a.error or "",
            }
            for a in chosen.attempt_log
        ],
        schema_overrides={"Code": pl.Int64, "Took (ms)": pl.Int64},
    ),
    hide_index=True,
)
if chosen.status in {"delivered", "failed"} and st.button("Resend", key="deliveries_resend"):
    try:
        ledger.resend(chosen.delivery_id, actor=f"dashboard:{admin.key_id}")
    except ControlError as error:
        st.error(str(error))
    else:
        st.success("Queued: the dispatcher sends it within a second or two.")
