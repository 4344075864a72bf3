"""Invoices & plan: the subscription, invoice history with lines, plan change, cancellation.

Figures are the billing API's (``dashboards/customer_billing``): invoices as ``GET /invoices``,
the preview as ``POST /prorate``, changes as ``PUT``/``DELETE /subscription/{id}`` make them.
A change is previewed first and made only on "Confirm"; a cancellation asks twice. Refusals
(409: already canceled, already on that plan ...) are shown as errors, never raised.

Each invoice's lines are shown as a table; a finalized one's PDF can be downloaded (the
document ``GET /invoices/{id}/pdf`` serves); drafts have none until they are finalized.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import streamlit as st

from dashboards.auth import require_customer, viewer
from dashboards.customer_billing import (
    Account,
    account,
    cancel,
    change_plan,
    forget,
    format_unit_amount,
    invoice_pdf,
    now_to_the_second,
    preview_change,
)
from dashboards.customer_data import KeyGoneError, format_quantity
from dashboards.resources import sources
from ingest_api.billing.models import Money, PlanOut, SubscriptionOut
from ingest_api.billing.models_invoices import InvoiceOut
from ingest_api.events.errors import RequestError
from tollgate.billing.money import format_money
from tollgate.control.models import When

_WHEN_LABEL: dict[When | None, str] = {
    None: "Recommended: upgrades now (prorated), downgrades at the end of the period",
    When.NOW: "Now, prorated to the second",
    When.PERIOD_END: "At the end of the current period",
}
_LINE_KIND = {
    "base_fee": "Base fee",
    "proration_credit": "Proration credit",
    "proration_charge": "Proration charge",
    "included": "Included usage",
    "usage": "Usage",
    "adjustment": "Adjustment",
}


def _money(money: Money) -> str:
    return format_money(money.amount, money.currency)


def _day(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%d %b %Y}"


def _moment(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%d %b %Y %H:%M} UTC"


def _refusal(error: Exception) -> str:
    if isinstance(error, RequestError):
        return f"{error.message.rstrip('.')}. {error.hint}"
    return "Your key has just been revoked: sign in again."


# -- actions (button callbacks: they run before the page, so it shows their outcome) -----------


def _result_key(customer_id: str) -> str:
    return f"billing_result_{customer_id}"


def _pending_key(customer_id: str) -> str:
    return f"billing_cancel_pending_{customer_id}"


def _confirm_change(
    customer_id: str, key_id: str, subscription_id: str, plan: PlanOut, when: When | None
) -> None:
    try:
        result = change_plan(sources(), customer_id, key_id, subscription_id, plan.name, when)
    except (RequestError, KeyGoneError) as refused:
        forget()  # refused: the subscription has changed since the page read it
        st.session_state[_result_key(customer_id)] = ("error", _refusal(refused))
        return
    change = result.change
    st.session_state[f"billing_plan_{customer_id}"] = None
    st.session_state[_result_key(customer_id)] = (
        "success",
        f"Plan changed to {plan.display_name}, effective {_moment(change.at)}: credit "
        f"{_money(change.credit)}, charge {_money(change.charge)}, net {_money(change.net)} "
        "on this cycle's invoice.",
    )


def _ask_cancel(customer_id: str, at_period_end: bool) -> None:
    st.session_state[_pending_key(customer_id)] = at_period_end


def _keep(customer_id: str) -> None:
    st.session_state.pop(_pending_key(customer_id), None)


def _confirm_cancel(customer_id: str, key_id: str, subscription_id: str) -> None:
    at_period_end = bool(st.session_state.pop(_pending_key(customer_id), True))
    try:
        result = cancel(
            sources(), customer_id, key_id, subscription_id, at_period_end=at_period_end
        )
    except (RequestError, KeyGoneError) as refused:
        forget()  # refused: the subscription has changed since the page read it
        st.session_state[_result_key(customer_id)] = ("error", _refusal(refused))
        return
    ending = result.cancellation
    st.session_state[_result_key(customer_id)] = (
        "success",
        f"Subscription canceled: it ends {_moment(ending.at)}; credit {_money(ending.credit)}.",
    )


# -- sections -----------------------------------------------------------------------------------


def _status(subscription: SubscriptionOut) -> str:
    if subscription.status == "canceled":
        return "Canceled"
    if subscription.cancel_at is not None:
        return f"Ends {_day(subscription.cancel_at)}"
    return "Active"


def _subscription(data: Account) -> None:
    st.subheader("Subscription")
    subscription = data.subscription
    if subscription is None:
        st.info("No active subscription.")
        if data.ended is not None and data.ended.ended_at is not None:
            st.caption(f"The last one ({data.ended.id}) ended {_moment(data.ended.ended_at)}.")
        return
    plans = {plan.name: plan for plan in data.plans}
    plan = plans.get(subscription.plan or "")
    plan_col, status_col, period_col, price_col = st.columns(4)
    plan_col.metric("Plan", plan.display_name if plan else str(subscription.plan))
    status_col.metric("Status", _status(subscription))
    if data.cycle is not None:
        period_col.metric("Current period", f"{_day(data.cycle.start)} to {_day(data.cycle.end)}")
    price_col.metric("Base price", _money(plan.base_price) if plan else "-")
    notes = [f"Subscription {subscription.id}, started {_day(subscription.started_at)}"]
    if subscription.cancel_at is not None:
        notes.append(f"set to cancel at the end of the period ({_moment(subscription.cancel_at)})")
    now = datetime.now(UTC)
    for period in subscription.plans:
        if period.effective_from > now:
            later = plans.get(period.plan)
            name = later.display_name if later else period.plan
            notes.append(f"changes to {name} on {_moment(period.effective_from)}")
    st.caption(" · ".join(notes))


def _invoice_title(invoice: InvoiceOut) -> str:
    return invoice.number or f"Draft {invoice.id}"


def _pdf(customer_id: str, key_id: str, invoice: InvoiceOut) -> None:
    try:
        pdf = invoice_pdf(sources(), customer_id, key_id, invoice.id)
    except (RequestError, KeyGoneError) as refused:
        st.caption(f"No PDF: {_refusal(refused)}")
        return
    st.download_button(
        "Download PDF",
        data=pdf,
        file_name=f"{invoice.number or invoice.id}.pdf",
        mime="application/pdf",
        key=f"invoice_pdf_{invoice.id}",
    )


def _invoices(data: Account, customer_id: str, key_id: str) -> None:
    st.subheader("Invoices")
    listing = data.invoices
    if listing.as_of is None:
        st.info("No invoices yet: the billing pipeline has not run.")
        return
    st.caption(f"As of {_moment(listing.as_of)}; drafts are recomputed until finalized.")
    if not listing.invoices:
        st.caption("No invoices yet.")
        return
    st.dataframe(
        [
            {
                "Invoice": _invoice_title(invoice),
                "Period": f"{_day(invoice.period_start)} to {_day(invoice.period_end)}",
                "Kind": invoice.kind,
                "Status": invoice.status,
                "Total": _money(invoice.total),
                "Finalized": _moment(invoice.finalized_at) if invoice.finalized_at else "",
            }
            for invoice in listing.invoices
        ],
        hide_index=True,
    )
    for invoice in listing.invoices:
        title = (
            f"{_invoice_title(invoice)} · {_day(invoice.period_start)} to "
            f"{_day(invoice.period_end)} · {invoice.status} · {_money(invoice.total)}"
        )
        with st.expander(title):
            if invoice.status == "finalized":
                _pdf(customer_id, key_id, invoice)
            st.dataframe(
                [
                    {
                        "Line": line.description,
                        "Kind": _LINE_KIND.get(line.kind, line.kind),
                        "Quantity": format_quantity(line.quantity),
                        "Unit price": (
                            format_unit_amount(line.unit_amount, line.amount.currency)
                            if line.unit_amount is not None
                            else ""
                        ),
                        "Amount": _money(line.amount),
                    }
                    for line in invoice.lines
                ],
                hide_index=True,
            )
            st.caption(f"Subtotal {_money(invoice.subtotal)} · total {_money(invoice.total)}")
            if invoice.status == "draft" and invoice.finalizes_at is not None:
                st.caption(f"Final from {_moment(invoice.finalizes_at)} at the earliest.")


def _change(data: Account, customer_id: str, key_id: str, subscription: SubscriptionOut) -> None:
    st.subheader("Change plan")
    plans = {plan.name: plan for plan in data.plans if plan.name != subscription.plan}
    name = st.selectbox(
        "New plan",
        list(plans),
        index=None,
        format_func=lambda n: (
            f"{plans[n].display_name} · {_money(plans[n].base_price)} per {plans[n].interval}"
        ),
        placeholder="Choose a plan to see what the change costs",
        key=f"billing_plan_{customer_id}",
    )
    when = st.radio(
        "Takes effect",
        list(_WHEN_LABEL),
        format_func=lambda w: _WHEN_LABEL[w],
        key=f"billing_when_{customer_id}",
    )
    if name is None:
        return
    plan = plans[name]
    at = now_to_the_second()
    try:
        preview = preview_change(sources(), customer_id, key_id, plan.name, when, at)
    except (RequestError, KeyGoneError) as refused:
        st.error(_refusal(refused))
        return
    timing = "now" if preview.timing == When.NOW else "at the end of the period"
    st.markdown(
        f"**{preview.from_plan} → {preview.to_plan}**, {timing}: effective "
        f"{_moment(preview.effective_at)}"
    )
    credit_col, charge_col, net_col = st.columns(3)
    credit_col.metric("Credit", _money(preview.credit))
    charge_col.metric("Charge", _money(preview.charge))
    net_col.metric("Net on this cycle's invoice", _money(preview.net))
    days = preview.remaining_seconds / 86400
    lines: list[dict[str, Any]] = [
        {
            "Line": f"Unused {preview.from_plan} time credited ({days:,.2f} days)",
            "Amount": _money(preview.credit),
        },
        {
            "Line": f"{preview.to_plan} for the rest of the cycle ({days:,.2f} days)",
            "Amount": _money(preview.charge),
        },
    ]
    st.dataframe(lines, hide_index=True)
    st.caption(
        f"Previewed at {preview.at.astimezone(UTC).isoformat()} for the cycle "
        f"{_day(preview.cycle.start)} to {_day(preview.cycle.end)}. Prorations are to the "
        "second: confirming a little later credits and charges a little less."
    )
    st.button(
        "Confirm change",
        type="primary",
        on_click=_confirm_change,
        args=(customer_id, key_id, subscription.id, plan, when),
        key=f"billing_confirm_{customer_id}",
    )


def _cancel(data: Account, customer_id: str, key_id: str, subscription: SubscriptionOut) -> None:
    st.subheader("Cancel subscription")
    if subscription.cancel_at is not None:
        st.info(f"Already set to end at {_moment(subscription.cancel_at)}.")
        return
    end = _day(data.cycle.end) if data.cycle else "the end of the period"
    options = {
        True: f"At the end of the current period ({end}); nothing is credited",
        False: "Now; the unused part of the base price is credited on this cycle's invoice",
    }
    pending = st.session_state.get(_pending_key(customer_id))
    if pending is None:
        at_period_end = st.radio(
            "Ends",
            list(options),
            format_func=lambda v: options[v],
            key=f"billing_cancel_when_{customer_id}",
        )
        st.button(
            "Cancel subscription…",
            on_click=_ask_cancel,
            args=(customer_id, at_period_end),
            key=f"billing_cancel_{customer_id}",
        )
        return
    st.warning(f"Cancel the subscription {subscription.id}? It ends: {options[pending]}.")
    yes_col, no_col = st.columns(2)
    yes_col.button(
        "Yes, cancel",
        type="primary",
        on_click=_confirm_cancel,
        args=(customer_id, key_id, subscription.id),
        key=f"billing_cancel_yes_{customer_id}",
    )
    no_col.button(
        "Keep my subscription",
        on_click=_keep,
        args=(customer_id,),
        key=f"billing_cancel_no_{customer_id}",
    )


customer_id = require_customer()
current = viewer()
assert current is not None  # require_customer stops the page otherwise

st.title(f"Invoices & plan · {customer_id}")
outcome = st.session_state.pop(_result_key(customer_id), None)
if outcome is not None:
    kind, message = outcome
    (st.success if kind == "success" else st.error)(message)
try:
    data = account(sources(), customer_id, current.key_id)
except (RequestError, KeyGoneError) as refused:
    st.error(_refusal(refused))
    st.stop()

_subscription(data)
_invoices(data, customer_id, current.key_id)
active = data.subscription
if active is not None and active.status == "active":
    _change(data, customer_id, current.key_id, active)
    _cancel(data, customer_id, current.key_id, active)
