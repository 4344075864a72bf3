"""Settings: which notices the customer receives, and their notices, to mark read."""

from __future__ import annotations

from datetime import UTC

import streamlit as st

from dashboards import customer_settings
from dashboards.auth import require_customer, viewer
from dashboards.customer_settings import TYPE_LABELS, SettingsRefusedError
from dashboards.resources import Sources, sources
from ingest_api.billing.models_invoices import NotificationOut

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
        submitted = st.form_submit_button("Save", key=f"notify_save_{customer_id}")
    if not submitted:
        return
    try:
        customer_settings.save_preferences(
            srcs, customer_id, key_id, types=types, thresholds=thresholds
        )
    except SettingsRefusedError as refused:
        st.error(f"The preferences were not saved: {refused}")
        return
    st.success("Notification preferences saved.")


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
_notifications(srcs, customer_id, signed_in.key_id)
