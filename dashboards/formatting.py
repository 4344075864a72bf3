"""Numbers, money and times as people read them: for display only, never for arithmetic.

Quantities given as the API's strings have ``customer_data.format_quantity``; these take the
values the marts hold (``int``, ``Decimal``) as DuckDB returns them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import polars as pl

from tollgate.billing.money import exponent, format_money, round_line

_CENTS = Decimal("0.01")


def format_count(value: int | None) -> str:
    """``12345`` -> ``"12,345"``."""
    return "n/a" if value is None else f"{int(value):,}"


def format_number(value: Decimal | int | float | None) -> str:
    """A quantity with thousands separators: whole numbers as such, others to 2 decimals."""
    if value is None:
        return "n/a"
    number = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    if number == number.to_integral_value():
        return f"{number.to_integral_value():,f}"
    return f"{number.quantize(_CENTS):,f}"


def format_amount(amount_minor: int | Decimal, currency: str) -> str:
    """``USD 1,234.56`` from minor units; a fractional amount (MRR) is shown rounded to whole
    minor units by the one rounding rule, ``round_line``: the figure itself stays exact."""
    whole = amount_minor if isinstance(amount_minor, int) else round_line(amount_minor)
    return format_money(whole, currency)


def format_age(age: timedelta) -> str:
    """How long ago, coarsely: ``"45 s"``, ``"12 min"``, ``"3 h 5 min"``, ``"2 d 4 h"``."""
    seconds = int(age.total_seconds())
    if seconds < 0:
        return "in the future"
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def major_units(frame: pl.DataFrame, column: str, currency: str, alias: str) -> pl.DataFrame:
    """``frame`` with ``alias``: ``column`` (minor units) in the major unit as a float, for a
    chart's scale only; tables and metrics show the exact figure with ``format_amount``."""
    scale = 10 ** exponent(currency)
    return frame.with_columns((pl.col(column).cast(pl.Float64) / scale).alias(alias))


def publication_caption(manifest: dict[str, Any]) -> str:
    """Where the figures come from: the publication's as-of time and when it was published."""
    extra = manifest.get("extra") or {}
    published = datetime.fromisoformat(manifest["published_at"]).astimezone(UTC)
    text = f"Published marts of {published:%d %b %Y %H:%M} UTC"
    if isinstance(extra.get("as_of"), str):
        as_of = datetime.fromisoformat(extra["as_of"]).astimezone(UTC)
        text += f" · billing data as of {as_of:%d %b %Y %H:%M} UTC"
    return text


def money_column(column: str, currency: str, alias: str) -> pl.Expr:
    """A table column of amounts in minor units, formatted (``format_amount``)."""
    return (
        pl.col(column)
        .map_elements(lambda value: format_amount(value, currency), return_dtype=pl.String)
        .alias(alias)
    )


def number_column(column: str, alias: str, unit: str = "") -> pl.Expr:
    """A table column of quantities or counts with thousands separators (and a unit)."""
    suffix = f" {unit}" if unit else ""
    return (
        pl.col(column)
        .map_elements(lambda value: format_number(value) + suffix, return_dtype=pl.String)
        .alias(alias)
    )
