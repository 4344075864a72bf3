"""The Invoices & plan page's queries and actions: the billing API's own functions, in-process.

* invoices: ``invoice_list`` (what ``GET /invoices`` answers), over the published marts, the
  customer filtered inside DuckDB;
* an invoice's PDF: ``invoice_document`` (what ``GET /invoices/{id}/pdf`` serves), which
  renders it first if the pipeline has not yet;
* the subscription: the active one, rendered by ``render_subscription`` as ``GET /summary``
  renders it;
* a plan change's preview: ``prorate``, the ``POST /prorate`` route function itself;
* a plan change and a cancellation: through ``ControlService`` exactly as
  ``PUT``/``DELETE /subscription/{id}`` make them (``routes_subscription``), acting as
  ``dashboard:<key id>`` in the audit log. The billing API's limit engine learns of them from
  the control change feed.

Nothing is priced here: every amount comes from those functions. Refusals come out as the
API's ``RequestError`` (409 conflicts, 404s), for the page to show.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import streamlit as st

from dashboards.customer_data import customer_caller, overview
from dashboards.customer_usage import usage
from dashboards.resources import Sources, marts
from ingest_api.billing.errors import control_errors
from ingest_api.billing.models import (
    CancelResult,
    ChangePlanResult,
    CycleOut,
    PlanOut,
    SubscriptionOut,
    plan_change_out,
)
from ingest_api.billing.models_invoices import InvoiceList
from ingest_api.billing.models_pricing import ProrateRequest, ProrationOut
from ingest_api.billing.routes_invoices import invoice_document, invoice_list
from ingest_api.billing.routes_plans import plan_list
from ingest_api.billing.routes_pricing import prorate
from ingest_api.billing.subscriptions import owned_subscription, render_subscription
from tollgate.control.models import When
from tollgate.invoices.formatting import unit_price_major
from tollgate.settings import TollgateSettings

# Invoices change only when the pipeline publishes; the subscription is re-read after every
# change made here (the caches are cleared), so a minute is only other writers' delay.
TTL_SECONDS = 60


@dataclass(frozen=True, slots=True)
class Account:
    currency: str
    subscription: SubscriptionOut | None  # the active one; None without
    cycle: CycleOut | None  # its current billing cycle
    ended: SubscriptionOut | None  # without an active one: the latest, if any
    plans: list[PlanOut]  # the catalogue's plans in the customer's currency
    invoices: InvoiceList


@st.cache_data(ttl=TTL_SECONDS, show_spinner="Reading invoices and plan…")
def account(srcs: Sources, customer_id: str, key_id: str) -> Account:
    """The page's data for ``customer_id``; the caller has checked who may see it."""
    caller = customer_caller(srcs, customer_id, key_id)
    with control_errors():
        active = caller.control.active_plan(customer_id, caller.clock())
        ended = None
        if active is None:
            subscriptions = caller.control.list_subscriptions(customer_id)
            if subscriptions:
                ended = render_subscription(caller, subscriptions[-1])
    subscription = render_subscription(caller, active.subscription) if active else None
    cycle = CycleOut(start=active.cycle.start, end=active.cycle.end) if active else None
    currency = caller.customer.currency
    plans = [p for p in plan_list(caller.catalogue).plans if p.base_price.currency == currency]
    invoices = invoice_list(marts(srcs.marts_dir), caller, None)
    return Account(currency, subscription, cycle, ended, plans, invoices)


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def invoice_pdf(srcs: Sources, customer_id: str, key_id: str, invoice_id: str) -> bytes:
    """The finalized invoice's PDF, as ``GET /invoices/{invoice_id}/pdf`` serves it; refused
    (``RequestError`` 404) for a draft or another customer's invoice."""
    caller = customer_caller(srcs, customer_id, key_id)
    # The documents' directory and the issuer come from the same TOLLGATE_* as ``sources``.
    _, stored = invoice_document(marts(srcs.marts_dir), TollgateSettings(), caller, invoice_id)
    return stored.pdf


def forget() -> None:
    """After a change: every page reads the subscription afresh."""
    account.clear()
    overview.clear()  # the Overview's plan and cost
    usage.clear()  # the plan decides how usage is split (by model, ...)


def preview_change(
    srcs: Sources, customer_id: str, key_id: str, plan: str, when: When | None, at: datetime
) -> ProrationOut:
    """``POST /prorate`` with ``{"plan": plan, "when": when, "at": at}``; records nothing."""
    caller = customer_caller(srcs, customer_id, key_id)
    return prorate(caller, ProrateRequest(plan=plan, when=when, at=at))


def change_plan(
    srcs: Sources, customer_id: str, key_id: str, subscription_id: str, plan: str, when: When | None
) -> ChangePlanResult:
    """``PUT /subscription/{subscription_id}`` with ``{"plan": plan, "when": when}``."""
    caller = customer_caller(srcs, customer_id, key_id)
    subscription = owned_subscription(caller, subscription_id)
    with control_errors():
        change = caller.control.change_plan(subscription.id, plan, when=when)
        after = caller.control.get_subscription(subscription.id)
    result = ChangePlanResult(
        subscription=render_subscription(caller, after), change=plan_change_out(change)
    )
    forget()
    return result


def cancel(
    srcs: Sources, customer_id: str, key_id: str, subscription_id: str, *, at_period_end: bool
) -> CancelResult:
    """``DELETE /subscription/{subscription_id}?at_period_end=...``."""
    caller = customer_caller(srcs, customer_id, key_id)
    subscription = owned_subscription(caller, subscription_id)
    with control_errors():
        after = caller.control.cancel(subscription.id, at_period_end=at_period_end)
        changes = caller.control.plan_changes(subscription.id)
    cancellation = next(change for change in reversed(changes) if change.to_plan is None)
    result = CancelResult(
        subscription=render_subscription(caller, after),
        cancellation=plan_change_out(cancellation),
    )
    forget()
    return result


def now_to_the_second() -> datetime:
    """Prorations are to the second: a preview at a whole second can be asked again exactly."""
    return datetime.now(UTC).replace(microsecond=0)


def format_unit_amount(unit_amount: str, currency: str) -> str:
    """An exact unit price in minor units (``"0.15"`` cents) in major units, all its digits
    kept but at least the currency's places: ``USD 0.0015``."""
    return f"{currency.upper()} {unit_price_major(unit_amount, currency, grouping=True)}"
