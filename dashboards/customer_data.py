"""The customer pages' queries: the billing API's own functions, called in-process.

Nothing is priced or counted here. The summary is ``build_summary`` (what ``GET /summary``
answers) and the notices are ``all_notifications`` (``GET /notifications``), over the same
control database and published marts the API reads. Live usage comes from a limit engine
rebuilt the way the API rebuilds its own at start-up: the current publication plus the
events published since. Events the API accepted in the last second or two, still in its
write-ahead log, show up once compacted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import streamlit as st

from dashboards.resources import Sources, catalogue, control_engine, marts
from ingest_api.billing.auth import Caller
from ingest_api.billing.models_invoices import NotificationOut
from ingest_api.billing.models_usage import SummaryOut
from ingest_api.billing.routes_notifications import all_notifications
from ingest_api.billing.routes_summary import build_summary
from ingest_api.live_limits import LiveLimits
from tollgate.control.api_keys import KeyStore, Scope
from tollgate.control.service import ControlService
from tollgate.limits.change_feed import ChangeFeed
from tollgate.limits.engine import LimitEngine

# Short enough that usage looks live, long enough that reruns (every widget click) and
# several viewers of one customer share one computation.
TTL_SECONDS = 30


@dataclass(frozen=True, slots=True)
class Overview:
    summary: SummaryOut
    unread: list[NotificationOut]  # newest first


class KeyGoneError(LookupError):
    """The key was revoked between the page's access check and the query (or may not act for
    the customer asked about, which a page's access check should have caught)."""


def customer_caller(srcs: Sources, customer_id: str, key_id: str) -> Caller:
    """The API's ``Caller`` for ``customer_id``, acting as ``dashboard:<key id>``; the page
    has checked (``require_customer``) that the key may act for that customer."""
    engine = control_engine(srcs.control_url)
    key = next((k for k in KeyStore(engine).active_by_hash().values() if k.key_id == key_id), None)
    if key is None:
        raise KeyGoneError(key_id)
    # Pages check access before they ask, but every read and write goes through here: refuse
    # a key that may not act for this customer, whatever a page got wrong.
    if key.customer_id != customer_id and Scope.ADMIN not in key.scopes:
        raise KeyGoneError(key_id)
    plans = catalogue(srcs.plans_file)
    # The dashboard only reads, but its control service still names who acts, as the API's.
    control = ControlService(engine, plans, actor=f"dashboard:{key_id}")
    return Caller(key, control.get_customer(customer_id), control, plans, clock=_utc_now)


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _limit_engine(srcs: Sources, caller: Caller) -> LimitEngine:
    engine = LimitEngine(caller.control, caller.catalogue)
    feed = ChangeFeed(control_engine(srcs.control_url))
    LiveLimits(engine, marts(srcs.marts_dir), feed, caller.catalogue, srcs.events_dir).rebuild(
        [],  # no write-ahead log to recover: that is the API's own
        customer_id=caller.customer_id,
    )
    return engine


@st.cache_data(ttl=TTL_SECONDS, show_spinner="Reading billing data…")
def overview(srcs: Sources, customer_id: str, key_id: str) -> Overview:
    """The Overview page's data for ``customer_id``; the caller has checked who may see it."""
    caller = customer_caller(srcs, customer_id, key_id)
    published = marts(srcs.marts_dir)
    summary = build_summary(caller, published, _limit_engine(srcs, caller))
    _, notifications = all_notifications(published, caller)
    return Overview(summary, [n for n in notifications if not n.is_read])


def days_left(end: datetime, now: datetime) -> int:
    """Days until the cycle ends, a started day counting as one (0 once it has ended)."""
    return max(0, math.ceil((end - now).total_seconds() / 86400))


def format_quantity(text: str) -> str:
    """A quantity as the API writes it (``"40000"``, ``"0.5"``) with thousands separators."""
    return f"{Decimal(text):,}"
