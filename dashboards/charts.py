"""The chart every trend page draws: a value per UTC day, split into coloured series."""

from __future__ import annotations

from typing import Literal

import altair as alt
import polars as pl


def per_day_chart(
    frame: pl.DataFrame,
    *,
    day: str,
    value: str,
    value_title: str,
    series: str,
    series_title: str,
    mark: Literal["bar", "line"] = "bar",
) -> alt.Chart:
    """Bars stack the series (their sum means something); lines compare them."""
    chart = alt.Chart(frame)
    chart = chart.mark_bar() if mark == "bar" else chart.mark_line(point=True)
    encoded: alt.Chart = chart.encode(
        x=alt.X(f"{day}:T", title="Day (UTC)"),
        y=alt.Y(f"{value}:Q", title=value_title, axis=alt.Axis(format=",d")),
        color=alt.Color(f"{series}:N", title=series_title),
        tooltip=[
            alt.Tooltip(f"{day}:T", title="Day"),
            alt.Tooltip(f"{series}:N", title=series_title),
            alt.Tooltip(f"{value}:Q", title=value_title, format=","),
        ],
    )
    return encoded
