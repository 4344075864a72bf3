"""Overview: the customer's plan and cycle, usage against each limit, cost and notices."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import streamlit as st

from dashboards.auth import require_customer, viewer
from dashboards.customer_data import days_left, format_quantity, overview
from dashboards.prefetch import prefetch_usage
from dashboards.resources import sources
from ingest_api.billing.models import Money
from ingest_api.billing.models_invoices import NotificationOut
from ingest_api.billing.models_usage import LimitStatusOut
from tollgate.billing.money import format_money

LATEST_NOTICES = 5

# A limit's status is the alert threshold rule (tollgate.billing.alerts) as the limit engine
# applied it: warning from 75 %, critical from 90 %, exceeded at 100 % (the catalogue's
# thresholds). Bars are green, amber from the warning and red from critical; the status word
# is written beside each, so the bar does not rely on colour alone.
_STYLE = {
    "ok": ("green", "OK", "#2e9e5b"),
    "warning": ("orange", "Warning", "#e8a317"),
    "critical": ("red", "Critical", "#d33a2c"),
    "exceeded": ("red", "Limit reached", "#d33a2c"),
}
_NOTICE_ICON = {
    "warning": ":material/warning:",
    "critical": ":material/error:",
    "exceeded": ":material/block:",
    "info": ":material/campaign:",
}


def _money(money: Money) -> str:
    return format_money(money.amount, money.currency)


def limit_label(limit: LimitStatusOut) -> str:
    used = format_quantity(limit.used)
    if limit.limit is None:
        return f"**{limit.display_name}**: {used} {limit.unit} (no limit)"
    colour, word, _ = _STYLE[limit.status]
    return (
        f"**{limit.display_name}**: {used} / {format_quantity(limit.limit)} {limit.unit} "
        f"({limit.percent_used} %) · :{colour}[**{word}**]"
    )


def limit_bar(limit: LimitStatusOut) -> str:
    """The bar as HTML (``st.progress`` has one colour for every bar)."""
    assert limit.percent_used is not None
    # A bar cannot go past full; the label says by how much it did.
    filled = min(int(Decimal(limit.percent_used)), 100)
    _, _, fill = _STYLE[limit.status]
    return (
        f'<div role="progressbar" aria-valuenow="{filled}" aria-valuemin="0" '
        f'aria-valuemax="100" data-status="{limit.status}" style="background:#e9ecef;'
        f'border-radius:6px;height:12px;margin:-0.4rem 0 0.3rem 0">'
        f'<div style="width:{filled}%;background:{fill};height:12px;border-radius:6px">'
        "</div></div>"
    )


def _limits(limits: list[LimitStatusOut]) -> None:
    st.subheader("Usage against limits")
    if not limits:
        st.caption("This plan sets no limits.")
    for limit in limits:
        if limit.limit is None or limit.percent_used is None:
            st.markdown(limit_label(limit))
            continue
        st.markdown(limit_label(limit))
        st.markdown(limit_bar(limit), unsafe_allow_html=True)
        resets = limit.resets_at.astimezone(UTC)
        st.caption(f"{limit.enforcement} limit · resets {resets:%d %b %Y %H:%M} UTC")


def _notices(unread: list[NotificationOut]) -> None:
    st.subheader(f"Unread notifications ({len(unread)})")
    if not unread:
        st.caption("Nothing new.")
    for notice in unread[:LATEST_NOTICES]:
        icon = _NOTICE_ICON.get(notice.severity, _NOTICE_ICON["info"])
        created = notice.created_at.astimezone(UTC)
        st.markdown(f"{icon} **{notice.title}** · {created:%d %b %Y %H:%M} UTC  \n{notice.message}")


customer_id = require_customer()
current = viewer()
assert current is not None  # require_customer stops the page otherwise
if not current.is_admin:
    # A customer's next page is most likely Usage, and its read is the slowest: start it
    # first. (Not for operators, whose next page is more often an analytics one, which the
    # read would slow down on a small machine.)
    prefetch_usage(sources(), customer_id, current.key_id)
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
