"""Settings: which notices the customer receives (and whether by e-mail), spend alerts and
budget, webhook endpoints and recent deliveries, and the notices, to mark read."""

from __future__ import annotations

from datetime import UTC

import streamlit as st

from dashboards import customer_settings, delivery_settings
from dashboards.auth import require_customer, viewer
from dashboards.customer_settings import TYPE_LABELS, SettingsRefusedError
from dashboards.formatting import format_amount
from dashboards.resources import Sources, sources
from ingest_api.billing.models_invoices import NotificationOut
from ingest_api.billing.models_spend import SpendThresholdOut

# One message survives the rerun a button's callback causes, then is shown once.
FLASH_KEY = "tollgate_settings_flash"
_ICON = {"warning": "⚠️", "critical": "🔴", "exceeded": "⛔", "info": "📣"}


def _flash(kind: str, message: str) -> None:
    st.session_state[FLASH_KEY] = (kind, message)


def _show_flash() -> None:
    kind, message = st.session_state.pop(FLASH_KEY, (None, None))
    if kind == "success":
        st.success(message)
    elif kind == "error":
        st.error(message)


def _mark_read(srcs: Sources, customer_id: str, key_id: str, ids: list[str]) -> None:
    try:
        count = customer_settings.mark_read(srcs, customer_id, key_id, ids)
    except SettingsRefusedError as refused:
        _flash("error", f"Nothing was marked read: {refused}")
        return
    _flash("success", f"Marked {count} notification{'s' if count != 1 else ''} read.")


def _notice_text(notice: NotificationOut) -> str:
    icon = _ICON.get(notice.severity, "📣")
    created = notice.created_at.astimezone(UTC)
    return f"{icon} **{notice.title}** · {created:%d %b %Y %H:%M} UTC  \n{notice.message}"


def _preferences_form(srcs: Sources, customer_id: str, key_id: str) -> None:
    st.subheader("Notification preferences")
    current = customer_settings.preferences(srcs, customer_id, key_id)
    # Keyed by customer: an admin switching customers must not carry one customer's choices
    # over to the next one's form.
    with st.form(f"notification_preferences_{customer_id}"):
        st.caption(
            "Choose which notices you receive. Muted notices are not listed here, on the "
            "Overview or by the API; turn them back on to see them again."
        )
        types = {
            kind: st.checkbox(
                TYPE_LABELS.get(kind, kind), value=on, key=f"notify_type_{customer_id}_{kind}"
            )
            for kind, on in current.types.items()
        }
        thresholds = st.multiselect(
            "Usage alerts at (percent of a limit)",
            options=current.available_thresholds,
            default=current.thresholds,
            format_func=lambda percent: f"{percent} %",
            key=f"notify_thresholds_{customer_id}",
            help="The plan catalogue's alert thresholds. Leave one out to stop hearing about it.",
        )
        address = delivery_settings.email_address(srcs, customer_id)
        email = st.checkbox(
            f"Also e-mail these notices to {address}" if address else "E-mail these notices",
            value=current.email,
            disabled=address is None,
            key=f"notify_email_{customer_id}",
            help=None if address else "The account has no e-mail address to send them to.",
        )
        submitted = st.form_submit_button("Save", key=f"notify_save_{customer_id}")
    if not submitted:
        return
    try:
        customer_settings.save_preferences(
            srcs, customer_id, key_id, types=types, thresholds=thresholds, email=email
        )
    except SettingsRefusedError as refused:
        st.error(f"The preferences were not saved: {refused}")
        return
    st.success("Notification preferences saved.")


def _threshold_text(threshold: SpendThresholdOut, currency: str) -> str:
    amount = format_amount(threshold.amount.amount, currency)
    if threshold.notified_at is not None:
        return (
            f"{amount} · reached, notified {threshold.notified_at.astimezone(UTC):%d %b %H:%M} UTC"
        )
    return f"{amount} · reached" if threshold.reached else f"{amount} · not reached"


def _spend_form(srcs: Sources, customer_id: str, key_id: str) -> None:
    st.subheader("Spend alerts and budget")
    current = customer_settings.spend(srcs, customer_id, key_id)
    currency = current.currency
    spent, remaining = st.columns(2)
    spent.metric(
        "Spent this cycle",
        "-" if current.spent is None else format_amount(current.spent.amount, currency),
        help="The cycle's cost so far, counted live: as on the Overview.",
    )
    remaining.metric(
        "Budget remaining",
        "no budget"
        if current.budget is None
        else format_amount(current.budget.remaining.amount, currency),
    )
    if current.cycle is not None:
        st.caption(f"The cycle ends {current.cycle.end.astimezone(UTC):%d %b %Y %H:%M} UTC.")
    for alert in current.alerts:
        st.markdown(f"- Alert at {_threshold_text(alert, currency)}")
    if current.budget is not None:
        st.markdown(f"- Budget of {_threshold_text(current.budget, currency)}")
    # Keyed by customer, as the preferences: an admin's switch must not carry values over.
    with st.form(f"spend_thresholds_{customer_id}"):
        st.caption(
            f"Amounts in {currency.upper()}, e.g. 500.00. An alert tells you once per cycle when "
            "the cycle's spend reaches it; the budget is a hard stop: billable usage past it is "
            "refused until the cycle ends."
        )
        alerts = st.text_area(
            "Alerts (one amount per line)",
            value="\n".join(alert.amount.decimal for alert in current.alerts),
            key=f"spend_alerts_{customer_id}",
        )
        budget = st.text_input(
            "Budget (empty: none)",
            value="" if current.budget is None else current.budget.amount.decimal,
            key=f"spend_budget_{customer_id}",
        )
        submitted = st.form_submit_button("Save", key=f"spend_save_{customer_id}")
    if not submitted:
        return
    try:
        customer_settings.save_spend_thresholds(
            srcs,
            customer_id,
            key_id,
            alerts=customer_settings.amounts(alerts),
            budget=budget.strip() or None,
        )
    except SettingsRefusedError as refused:
        st.error(f"The spend alerts and budget were not saved: {refused}")
        return
    _flash("success", "Spend alerts and budget saved.")
    # Show the saved values as the API holds them ("500" -> "500.00"), and what they mean for
    # this cycle: the widgets would otherwise keep what was typed.
    for key in (f"spend_alerts_{customer_id}", f"spend_budget_{customer_id}"):
        st.session_state.pop(key, None)
    st.rerun()


def _notifications(srcs: Sources, customer_id: str, key_id: str) -> None:
    found = customer_settings.notices(srcs, customer_id, key_id)
    unread = [n for n in found if not n.is_read]
    read = [n for n in found if n.is_read]
    st.subheader(f"Unread notifications ({len(unread)})")
    if unread:
        st.button(
            "Mark all read",
            key=f"notify_read_all_{customer_id}",
            on_click=_mark_read,
            args=(srcs, customer_id, key_id, [n.id for n in unread]),
        )
    else:
        st.caption("Nothing new.")
    for notice in unread:
        text, action = st.columns([5, 1], vertical_alignment="center")
        text.markdown(_notice_text(notice))
        action.button(
            "Mark read",
            key=f"notify_read_{notice.id}",
            on_click=_mark_read,
            args=(srcs, customer_id, key_id, [notice.id]),
        )
    with st.expander(f"Read notifications ({len(read)})"):
        if not read:
            st.caption("None yet.")
        for notice in read:
            read_at = notice.read_at.astimezone(UTC) if notice.read_at else None
            when = f" · read {read_at:%d %b %Y %H:%M} UTC" if read_at else ""
            st.markdown(f"{_notice_text(notice)}{when}")


customer_id = require_customer()
signed_in = viewer()
assert signed_in is not None  # require_customer stops the page otherwise
srcs = sources()
st.title(f"Settings · {customer_id}")
_show_flash()
_preferences_form(srcs, customer_id, signed_in.key_id)
_spend_form(srcs, customer_id, signed_in.key_id)
delivery_settings.section(srcs, customer_id, signed_in.key_id)
_notifications(srcs, customer_id, signed_in.key_id)
