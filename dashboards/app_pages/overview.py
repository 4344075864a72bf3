"""Overview: the customer's plan and cycle, usage against each limit, cost and notices."""

from __future__ import annotations

from datetime import UTC, datetime

import streamlit as st

from dashboards.auth import require_customer, viewer
from dashboards.customer_data import days_left, format_quantity, overview
from dashboards.resources import sources
from ingest_api.billing.models import Money
from ingest_api.billing.models_invoices import NotificationOut
from ingest_api.billing.models_usage import LimitStatusOut
from tollgate.billing.money import format_money

LATEST_NOTICES = 5

# A limit's status is the alert threshold rule (tollgate.billing.alerts) as the limit engine
# applied it: warning from 75 %, critical from 90 %, exceeded at 100 % (the catalogue's
# thresholds). The word is shown with the colour, so the bar does not rely on colour alone.
_STYLE = {
    "ok": ("green", "OK"),
    "warning": ("orange", "Warning"),
    "critical": ("red", "Critical"),
    "exceeded": ("red", "Limit reached"),
}
_NOTICE_ICON = {"warning": "⚠️", "critical": "🔴", "exceeded": "⛔", "info": "📣"}


def _money(money: Money) -> str:
    return format_money(money.amount, money.currency)


def limit_label(limit: LimitStatusOut) -> str:
    used = format_quantity(limit.used)
    if limit.limit is None:
        return f"**{limit.display_name}**: {used} {limit.unit} (no limit)"
    colour, word = _STYLE[limit.status]
    return (
        f"**{limit.display_name}**: {used} / {format_quantity(limit.limit)} {limit.unit} "
        f"({limit.percent_used} %) · :{colour}[**{word}**]"
    )


def _limits(limits: list[LimitStatusOut]) -> None:
    st.subheader("Usage against limits")
    if not limits:
        st.caption("This plan sets no limits.")
    for limit in limits:
        if limit.limit is None or limit.percent_used is None:
            st.markdown(limit_label(limit))
            continue
        # A bar cannot go past full; the label still says by how much it did.
        st.progress(min(float(limit.percent_used) / 100, 1.0), text=limit_label(limit))
        resets = limit.resets_at.astimezone(UTC)
        st.caption(f"{limit.enforcement} limit · resets {resets:%d %b %Y %H:%M} UTC")


def _notices(unread: list[NotificationOut]) -> None:
    st.subheader(f"Unread notifications ({len(unread)})")
    if not unread:
        st.caption("Nothing new.")
    for notice in unread[:LATEST_NOTICES]:
        icon = _NOTICE_ICON.get(notice.severity, "📣")
        created = notice.created_at.astimezone(UTC)
        st.markdown(f"{icon} **{notice.title}** · {created:%d %b %Y %H:%M} UTC  \n{notice.message}")


customer_id = require_customer()
current = viewer()
assert current is not None  # require_customer stops the page otherwise
data = overview(sources(), customer_id, current.key_id)
summary = data.summary

st.title(f"Overview · {customer_id}")
if summary.as_of is not None:
    st.caption(f"Billing data as of {summary.as_of.astimezone(UTC):%d %b %Y %H:%M} UTC")
if summary.plan is None or summary.cycle is None or summary.cost is None:
    st.info("No active subscription: no plan, cycle or cost to show.")
else:
    cycle, cost = summary.cycle, summary.cost
    plan_col, days_col, so_far_col, projected_col = st.columns(4)
    plan_col.metric("Plan", summary.plan.display_name)
    days_col.metric("Days left in cycle", days_left(cycle.end, datetime.now(UTC)))
    so_far_col.metric("Cost so far", _money(cost.so_far))
    projected_col.metric("Projected at cycle end", _money(cost.projected))
    st.caption(
        f"Cycle {cycle.start.astimezone(UTC):%d %b %Y} to {cycle.end.astimezone(UTC):%d %b %Y}"
        f" · base price {_money(summary.plan.base_price)}"
    )
_limits(summary.limits)
_notices(data.unread)
