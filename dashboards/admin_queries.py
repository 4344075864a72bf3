"""The queries behind the admin analytics pages: over the published marts only, aggregated in
DuckDB, returning small frames (a row per day, bin, plan or top customer, never per event).

Every query is a plain function of a DuckDB connection on a publication
(``PublishedMarts.connect()``), usable outside Streamlit. ``AdminData`` runs them for a page,
cached per publication (``st.cache_data``): the cache key is the publication's name, so a new
publication shows at once, and ``CACHE_TTL_SECONDS`` only bounds how long old entries stay.
Money stays exact (integer minor units, ``Decimal`` for MRR); the pages format it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Concatenate, Literal, ParamSpec, TypeVar

import duckdb
import polars as pl
import streamlit as st

from dashboards.resources import Sources, marts
from tollgate.warehouse.publication import MANIFEST
from tollgate.warehouse.reader import NothingPublishedError, PublishedMarts

P = ParamSpec("P")
T = TypeVar("T")
Connection = duckdb.DuckDBPyConnection

CACHE_TTL_SECONDS = 600
# A mart materialized longer ago than this is flagged stale: the usage refresh runs hourly
# (pipelines/defs/billing/schedules.py), so two hours means at least one refresh was missed.
STALE_AFTER = timedelta(hours=2)
HISTOGRAM_BINS = 20
NEAR_OR_OVER = ("warning", "critical", "exceeded")
STATUS_ORDER = ("ok", "warning", "critical", "exceeded")
# Lines without a feature: base fees and prorations.
NO_FEATURE = "Base fees & prorations"
InvoiceStatus = Literal["all", "finalized"]
# The periods the trend pages offer, counted back from the newest day in the data (not the
# clock: a publication's figures stay the same whenever they are looked at).
PERIODS: dict[str, int | None] = {
    "Last 7 days": 7,
    "Last 30 days": 30,
    "Last 90 days": 90,
    "All": None,
}
DEFAULT_PERIOD = "Last 30 days"

NOTHING_PUBLISHED = (
    "Nothing has been published yet: the pipeline has not completed a run. Run "
    "`tollgate pipeline run` (or materialise the marts in Dagster) and reload."
)


class AdminData:
    """One page render's view of the current publication: its connection and its name."""

    def __init__(self, published: PublishedMarts) -> None:
        self.dest_dir = published.dest_dir
        self._con = published.connect()  # NothingPublishedError if there is nothing yet
        self.publication = str(_one(self._con, "select current_schema()")[0])

    def query(
        self, fn: Callable[Concatenate[Connection, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """``fn(connection, *args)``, cached per publication, query and arguments."""
        name = f"{fn.__module__}.{fn.__qualname__}"
        result: T = _cached(
            str(self.dest_dir), self.publication, name, args, kwargs, _fn=fn, _con=self._con
        )
        return result

    def manifest(self) -> dict[str, Any]:
        """This publication's manifest (the one the connection reads, whatever came since)."""
        return _manifest(str(self.dest_dir), self.publication)


@st.cache_data(ttl=CACHE_TTL_SECONDS, show_spinner=False)
def _cached(
    dest_dir: str,
    publication: str,
    name: str,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    *,
    _fn: Callable[..., Any],
    _con: Connection,
) -> Any:
    # dest_dir, publication, name and the arguments are the key; _fn and _con are not hashed.
    return _fn(_con, *args, **kwargs)


@st.cache_data(ttl=CACHE_TTL_SECONDS, show_spinner=False)
def _manifest(dest_dir: str, publication: str) -> dict[str, Any]:
    manifest: dict[str, Any] = json.loads((Path(dest_dir) / publication / MANIFEST).read_text())
    return manifest


def admin_data_or_stop(sources: Sources) -> AdminData:
    """The current publication, or (nothing published yet) an info box and the page stops."""
    try:
        return AdminData(marts(sources.marts_dir))
    except NothingPublishedError:
        st.info(NOTHING_PUBLISHED)
        st.stop()


def _frame(con: Connection, sql: str, params: list[Any] | None = None) -> pl.DataFrame:
    frame: pl.DataFrame = con.sql(sql, params=params or []).pl()
    return frame


def _one(con: Connection, sql: str, params: list[Any] | None = None) -> tuple[Any, ...]:
    # fetchall, not fetchone: a result left unfinished would block the connection's next query.
    (row,) = con.execute(sql, params or []).fetchall()
    return tuple(row)


# --- Usage trends -------------------------------------------------------------------------


def features(con: Connection) -> pl.DataFrame:
    """feature, display_name, unit, aggregation: the catalogue's features, in name order."""
    return _frame(
        con, "select feature, display_name, unit, aggregation from dim_features order by 1"
    )


_PERIOD = """
    (? is null or usage_date > (select max(usage_date) from mart_daily_usage) - ?::integer)
"""


def daily_usage(con: Connection, days: int | None) -> pl.DataFrame:
    """usage_date, feature, display_name, unit, quantity, events, customers: one row per day
    and feature over the last ``days`` days with usage (all of them if None)."""
    return _frame(
        con,
        f"""
        select u.usage_date, u.feature, coalesce(f.display_name, u.feature) as display_name,
            coalesce(f.unit, '') as unit, u.quantity, u.events, u.customers
        from mart_daily_usage as u
        left join dim_features as f on f.feature = u.feature
        where {_PERIOD}
        order by u.usage_date, u.feature
        """,  # noqa: S608 (a constant)
        [days, days],
    )


def usage_totals(con: Connection, days: int | None) -> pl.DataFrame:
    """feature, display_name, unit, quantity, is_peak, events, busiest_day_customers: the
    period's usage per feature. Additive features (sum, count) add up their days; the others
    (max, last) have no meaningful sum, so their peak day is given (``is_peak``)."""
    return _frame(
        con,
        f"""
        select u.feature, coalesce(f.display_name, u.feature) as display_name,
            coalesce(f.unit, '') as unit,
            case when coalesce(f.aggregation, 'sum') in ('sum', 'count') then sum(u.quantity)
                else max(u.quantity) end as quantity,
            coalesce(f.aggregation, 'sum') not in ('sum', 'count') as is_peak,
            sum(u.events)::bigint as events,
            max(u.customers) as busiest_day_customers
        from mart_daily_usage as u
        left join dim_features as f on f.feature = u.feature
        where {_PERIOD}
        group by u.feature, f.display_name, f.unit, f.aggregation
        order by u.feature
        """,  # noqa: S608 (a constant)
        [days, days],
    )


# --- Revenue ------------------------------------------------------------------------------


def currencies(con: Connection) -> list[str]:
    """Every currency with revenue or MRR, most revenue first."""
    rows = con.execute(
        """
        select currency, sum(amount) as amount from (
            select currency, amount from mart_revenue_by_month
            union all
            select currency, 0 from mart_mrr
        )
        group by currency
        order by amount desc, currency
        """
    ).fetchall()
    return [str(row[0]) for row in rows]


_STATUS = "(? = 'all' or r.invoice_status = 'finalized')"


def revenue_by_month_and_plan(
    con: Connection, currency: str, status: InvoiceStatus = "all"
) -> pl.DataFrame:
    """revenue_month, plan, plan_name, amount (minor units), customers: invoiced per month of
    the billing period's start and plan."""
    return _frame(
        con,
        f"""
        select r.revenue_month, r.plan, coalesce(p.display_name, r.plan) as plan_name,
            sum(r.amount)::bigint as amount, max(r.customers) as customers
        from mart_revenue_by_month as r
        left join dim_plans as p on p.plan = r.plan
        where r.currency = ? and {_STATUS}
        group by all
        order by r.revenue_month, coalesce(any_value(p.plan_order), 999), r.plan
        """,  # noqa: S608 (a constant)
        [currency, status],
    )


def revenue_by_month_and_feature(
    con: Connection, currency: str, status: InvoiceStatus = "all"
) -> pl.DataFrame:
    """revenue_month, feature, feature_name, amount: invoiced per month and feature; lines of
    no feature (base fees, prorations) are one group, ``NO_FEATURE``."""
    return _frame(
        con,
        f"""
        select r.revenue_month, r.feature,
            coalesce(f.display_name, r.feature, ?) as feature_name,
            sum(r.amount)::bigint as amount
        from mart_revenue_by_month as r
        left join dim_features as f on f.feature = r.feature
        where r.currency = ? and {_STATUS}
        group by all
        order by r.revenue_month, r.feature nulls first
        """,  # noqa: S608 (a constant)
        [NO_FEATURE, currency, status],
    )


def mrr(con: Connection, currency: str) -> pl.DataFrame:
    """mrr_month, mrr (exact ``Decimal`` minor units), active_subscriptions,
    paying_subscriptions, per month."""
    # The mart's MRR comes out of the warehouse as a double (a DuckDB decimal division):
    # brought back to the decimal(38, 6) of its definition, which every price/12 fits.
    return _frame(
        con,
        """
        select mrr_month, mrr::decimal(38, 6) as mrr, active_subscriptions, paying_subscriptions
        from mart_mrr
        where currency = ?
        order by mrr_month
        """,
        [currency],
    )


@dataclass(frozen=True, slots=True)
class RevenueSummary:
    currency: str
    total: int  # minor units, every month
    latest_month: datetime | None
    latest_month_amount: int
    mrr: Decimal | None  # the latest month's
    mrr_change: Decimal | None  # against the month before
    active_subscriptions: int
    paying_subscriptions: int


def revenue_summary(
    con: Connection, currency: str, status: InvoiceStatus = "all"
) -> RevenueSummary:
    row = _one(
        con,
        f"""
        with revenue as (
            select r.revenue_month, sum(r.amount)::bigint as amount
            from mart_revenue_by_month as r
            where r.currency = ? and {_STATUS}
            group by all
        ),
        recurring as (
            select mrr_month, mrr::decimal(38, 6) as mrr, active_subscriptions,
                paying_subscriptions,
                mrr::decimal(38, 6) - lag(mrr::decimal(38, 6)) over (order by mrr_month)
                    as change
            from mart_mrr
            where currency = ?
        ),
        latest_mrr as (select * from recurring order by mrr_month desc limit 1)
        select
            (select coalesce(sum(amount), 0)::bigint from revenue),
            (select max(revenue_month) from revenue),
            (select coalesce(sum(amount), 0)::bigint from revenue
                where revenue_month = (select max(revenue_month) from revenue)),
            (select mrr from latest_mrr),
            (select change from latest_mrr),
            coalesce((select active_subscriptions from latest_mrr), 0),
            coalesce((select paying_subscriptions from latest_mrr), 0)
        """,  # noqa: S608 (a constant)
        [currency, status, currency],
    )
    return RevenueSummary(currency, *row)


# --- Customers ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UsageDistribution:
    customers: int  # with a row for the feature in their current cycle
    total: Decimal
    median: Decimal | None
    p90: Decimal | None
    p99: Decimal | None
    maximum: Decimal | None


def usage_distribution(con: Connection, feature: str) -> UsageDistribution:
    row = _one(
        con,
        """
        select count(*), coalesce(sum(quantity), 0), quantile_disc(quantity, 0.5),
            quantile_disc(quantity, 0.9), quantile_disc(quantity, 0.99), max(quantity)
        from mart_customer_usage
        where feature = ?
        """,
        [feature],
    )
    return UsageDistribution(*row)


def usage_histogram(con: Connection, feature: str, bins: int = HISTOGRAM_BINS) -> pl.DataFrame:
    """bin, bin_start, bin_end, customers: ``bins`` equal-width bins from the smallest to the
    largest current-cycle usage of ``feature`` (empty bins included; the last bin includes
    its end). Empty if nobody used it."""
    return _frame(
        con,
        """
        with usage as (
            select quantity::double as quantity from mart_customer_usage where feature = ?
        ),
        bounds as (select min(quantity) as low, max(quantity) as high from usage),
        binned as (
            select least(
                floor((u.quantity - b.low) / nullif(b.high - b.low, 0) * ?::integer), ? - 1
            )::integer as bin
            from usage as u cross join bounds as b
        ),
        counts as (select coalesce(bin, 0) as bin, count(*) as customers from binned group by 1)
        select s.bin::integer as bin,
            b.low + (b.high - b.low) * s.bin / ?::integer as bin_start,
            b.low + (b.high - b.low) * (s.bin + 1) / ?::integer as bin_end,
            coalesce(c.customers, 0) as customers
        from bounds as b
        cross join range(?::integer) as s(bin)
        left join counts as c on c.bin = s.bin
        where b.low is not null
        order by s.bin
        """,
        [feature, bins, bins, bins, bins, bins],
    )


def top_customers(con: Connection, feature: str, limit: int = 20) -> pl.DataFrame:
    """customer_id, plan, plan_name, quantity, events, usage_amount (minor units), currency,
    percentile: the ``limit`` largest current-cycle users of ``feature``."""
    return _frame(
        con,
        """
        select u.customer_id, u.plan, coalesce(p.display_name, u.plan) as plan_name,
            u.quantity, u.events::bigint as events, u.usage_amount, u.currency, u.percentile
        from mart_customer_usage as u
        left join dim_plans as p on p.plan = u.plan
        where u.feature = ?
        order by u.quantity desc, u.customer_id
        limit ?
        """,
        [feature, limit],
    )


# --- Limit utilization --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LimitCounts:
    limits: int  # customer and feature pairs with a limit
    customers_limited: int
    customers_near: int  # warning or critical on at least one limit, none exceeded
    customers_over: int  # at least one limit reached
    hard_limits_reached: int  # customer and feature pairs blocked by a hard limit


def limit_counts(con: Connection) -> LimitCounts:
    row = _one(
        con,
        """
        with per_customer as (
            select customer_id,
                bool_or(status = 'exceeded') as over,
                bool_or(status in ('warning', 'critical')) as near
            from fct_limit_status
            where limit_value is not null
            group by customer_id
        )
        select
            (select count(*) from fct_limit_status where limit_value is not null),
            (select count(*) from per_customer),
            (select count(*) from per_customer where near and not over),
            (select count(*) from per_customer where over),
            (select count(*) from fct_limit_status
                where limit_value is not null and status = 'exceeded' and enforcement = 'hard')
        """,
    )
    return LimitCounts(*row)


def limit_status_by_feature(con: Connection) -> pl.DataFrame:
    """feature, display_name, status, status_order, customers, hard_limited: from
    mart_limit_utilization, all plans together."""
    return _frame(
        con,
        """
        select m.feature, coalesce(f.display_name, m.feature) as display_name, m.status,
            case m.status when 'ok' then 0 when 'warning' then 1 when 'critical' then 2
                else 3 end as status_order,
            sum(m.customers)::bigint as customers, sum(m.hard_limited)::bigint as hard_limited
        from mart_limit_utilization as m
        left join dim_features as f on f.feature = m.feature
        group by all
        order by m.feature, status_order
        """,
    )


def limit_utilization_by_plan(con: Connection) -> pl.DataFrame:
    """feature, plan, status, customers, average_percent_used, max_percent_used: the mart."""
    return _frame(
        con,
        """
        select m.feature, m.plan, m.status, m.customers, m.hard_limited,
            round(m.average_percent_used, 2) as average_percent_used, m.max_percent_used
        from mart_limit_utilization as m
        left join dim_plans as p on p.plan = m.plan
        order by m.feature, coalesce(p.plan_order, 999), m.plan,
            case m.status when 'ok' then 0 when 'warning' then 1 when 'critical' then 2
                else 3 end
        """,
    )


@dataclass(frozen=True, slots=True)
class LimitList:
    rows: pl.DataFrame  # the first ``limit``, fullest first
    total: int  # how many match


def customers_near_or_over(
    con: Connection, statuses: tuple[str, ...] = NEAR_OR_OVER, limit: int = 100
) -> LimitList:
    """customer_id, plan, feature, used, limit_value, percent_used, enforcement, status,
    resets_at: each limit at one of ``statuses``, fullest first."""
    wanted = [s for s in statuses if s in NEAR_OR_OVER]
    rows = _frame(
        con,
        """
        select customer_id, plan, feature, used, limit_value, percent_used, enforcement,
            status, resets_at
        from fct_limit_status
        where limit_value is not null and list_contains(?::varchar[], status)
        order by percent_used desc, customer_id, feature
        limit ?
        """,
        [wanted, limit],
    )
    (total,) = _one(
        con,
        "select count(*) from fct_limit_status "
        "where limit_value is not null and list_contains(?::varchar[], status)",
        [wanted],
    )
    return LimitList(rows, int(total))


# --- Notifications ------------------------------------------------------------------------

_RECENT = """
    (? is null or created_at >= (select max(created_at) from fct_notifications)
        - to_days(?::integer))
"""


def notifications_per_day(con: Connection, days: int | None) -> pl.DataFrame:
    """day (UTC), notification_type, notifications: over the last ``days`` days before the
    newest notification (all if None)."""
    return _frame(
        con,
        f"""
        select (created_at at time zone 'UTC')::date as day, notification_type,
            count(*) as notifications
        from fct_notifications
        where {_RECENT}
        group by all
        order by day, notification_type
        """,  # noqa: S608 (a constant)
        [days, days],
    )


def notifications_by_type(con: Connection, days: int | None) -> pl.DataFrame:
    """notification_type, notifications, unread, customers, over the same period."""
    return _frame(
        con,
        f"""
        select notification_type, count(*) as notifications,
            count(*) filter (where not is_read) as unread,
            count(distinct customer_id) as customers
        from fct_notifications
        where {_RECENT}
        group by all
        order by notifications desc, notification_type
        """,  # noqa: S608 (a constant)
        [days, days],
    )


# --- Pipeline freshness -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Freshness:
    published_at: datetime
    as_of: datetime | None
    run_id: str | None
    marts: pl.DataFrame  # mart, rows, materialized_at (None: unknown), age, stale


def freshness(manifest: dict[str, Any], now: datetime) -> Freshness:
    """Each published mart's row count and when it was last materialized (the publishing
    run's ``extra["materialized_at"]``; unknown if absent), stale past ``STALE_AFTER``."""
    extra = manifest.get("extra") or {}
    materialized = extra.get("materialized_at") or {}
    rows = []
    for table, count in manifest["tables"].items():
        at = _moment(materialized.get(table))
        age = None if at is None else now - at
        rows.append(
            {
                "mart": table,
                "rows": int(count),
                "materialized_at": at,
                "age": age,
                "stale": None if age is None else age > STALE_AFTER,
            }
        )
    schema = pl.Schema(
        [
            ("mart", pl.String()),
            ("rows", pl.Int64()),
            ("materialized_at", pl.Datetime("us", "UTC")),
            ("age", pl.Duration("us")),
            ("stale", pl.Boolean()),
        ]
    )
    as_of = _moment(extra.get("as_of"))
    published = _moment(manifest["published_at"])
    assert published is not None
    run_id = extra.get("run_id")
    return Freshness(
        published, as_of, None if run_id is None else str(run_id), pl.DataFrame(rows, schema=schema)
    )


def _moment(text: object) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
