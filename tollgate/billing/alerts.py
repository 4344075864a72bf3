"""Usage and spend alerts: when a threshold counts as reached, and what the notification says.

One place for both the pipeline (``fct_notifications`` calls the text functions through DuckDB,
``duckdb_functions.py``) and the API, which raises the same notices in real time: a notice
raised by either has the same id (``identifiers.notification_id``), type, title and message.

The threshold rule is also written in SQL, as the dbt macro ``threshold_reached``
(``dbt_project/macros/usage_aggregation.sql``), because the pipeline evaluates it on every event
of a window; ``tests/billing/test_alerts.py`` holds the two to the same answers.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal

from tollgate.billing.catalogue.model import AlertLevel, AlertThreshold, Enforcement
from tollgate.billing.money import money_text

LIMIT_WARNING = "limit_warning"
LIMIT_EXCEEDED = "limit_exceeded"
# Alerts on the cycle's cost and the budget (tollgate.limits.spend): raised live only.
SPEND_ALERT = "spend_alert"
BUDGET_REACHED = "budget_reached"
_CENTS = Decimal("0.01")


def threshold_reached(used: Decimal, limit: Decimal, percent: int) -> bool:
    """Usage has reached ``percent`` of ``limit``: at least that share, and above zero (a zero
    limit is reached by any use)."""
    return used > 0 and used * 100 >= limit * percent


def percent_used(used: Decimal, limit: Decimal) -> Decimal:
    """Usage as a percentage of the limit, to two places (half up); a zero limit is 100 % once
    anything is used."""
    if limit == 0:
        return Decimal(100) if used > 0 else Decimal(0)
    return (used * 100 / limit).quantize(_CENTS, rounding=ROUND_HALF_UP)


def reached_thresholds(
    used: Decimal, limit: Decimal, thresholds: Iterable[AlertThreshold]
) -> list[AlertThreshold]:
    return [t for t in thresholds if threshold_reached(used, limit, t.percent)]


def notification_type(level: AlertLevel | str) -> str:
    return LIMIT_EXCEEDED if AlertLevel(level) is AlertLevel.EXCEEDED else LIMIT_WARNING


def notification_title(level: AlertLevel | str, display_name: str, percent: int) -> str:
    if AlertLevel(level) is AlertLevel.EXCEEDED:
        return f"{display_name} limit reached"
    return f"{display_name} at {percent}% of the limit"


def notification_message(
    level: AlertLevel | str,
    display_name: str,
    percent: int,
    enforcement: Enforcement | str,
    limit: Decimal,
    unit: str,
    window_start: datetime,
) -> str:
    limit_text = limit.quantize(_CENTS, rounding=ROUND_HALF_UP)
    day = window_start.astimezone(UTC).strftime("%Y-%m-%d")
    message = (
        f"{display_name} usage reached {percent}% of the {Enforcement(enforcement).value} limit "
        f"of {limit_text} {unit} for the period from {day}."
    )
    if AlertLevel(level) is AlertLevel.EXCEEDED and Enforcement(enforcement) is Enforcement.HARD:
        message += " Further use is refused until the limit resets."
    return message


# -- spend alerts and the budget (raised by tollgate.limits.spend, refused at ingest) ---------


def spend_alert_title(amount: int, currency: str) -> str:
    return f"Spend passed {money_text(amount, currency)}"


def spend_alert_message(
    amount: int, spent: int, currency: str, cycle_start: datetime, cycle_end: datetime
) -> str:
    return (
        f"This billing cycle's spend reached {money_text(spent, currency)}, passing your alert "
        f"at {money_text(amount, currency)} (cycle {_day(cycle_start)} to {_day(cycle_end)})."
    )


def budget_reached_title(budget: int, currency: str) -> str:
    return f"Budget of {money_text(budget, currency)} reached"


def budget_reached_message(budget: int, spent: int, currency: str, cycle_end: datetime) -> str:
    return (
        f"Budget of {money_text(budget, currency)} reached: this billing cycle's spend is "
        f"{money_text(spent, currency)}. Further billable usage is refused until the cycle "
        f"ends on {_moment(cycle_end)}; raise or remove the budget to continue."
    )


def budget_refusal_reason(
    feature: str, charge: int, spent: int, budget: int, currency: str, cycle_end: datetime
) -> str:
    """Why ingest refuses an event (code ``budget_exceeded``) and a limit check says no."""
    return (
        f"budget reached: {feature} usage would add {money_text(charge, currency)} to this "
        f"billing cycle's spend of {money_text(spent, currency)}, past the budget of "
        f"{money_text(budget, currency)}, so it is refused until the cycle ends at "
        f"{cycle_end.astimezone(UTC).isoformat().replace('+00:00', 'Z')}; usage that costs "
        "nothing more is still accepted; raise or remove the budget to continue"
    )


def _day(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d")


def _moment(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
