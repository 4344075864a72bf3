"""The pricing engine as DuckDB functions, so SQL prices usage with the same Python code.

dbt registers these through ``tollgate.billing.dbt_plugin`` on every connection it opens; any
other DuckDB consumer calls :func:`register_pricing_functions`. The SQL side never restates a
price, tier, allowance or rounding rule: it only passes quantities in and reads amounts out.

=================================  ==========================================================
``tollgate_usage_charge``          (plan, feature, dimension, quantity) -> BIGINT minor units
``tollgate_usage_charge_exact``    same arguments -> VARCHAR, the exact amount before rounding
``tollgate_billable_quantity``     (plan, feature, quantity) -> quantity above the allowance
``tollgate_pricing_dimension``     (plan, feature) -> the event property prices split by, or NULL
``tollgate_base_charge``           (plan, period_start, period_end, start, end) -> BIGINT: the
                                   plan's base price for [start, end) of that period, prorated
=================================  ==========================================================
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

import duckdb
from duckdb import sqltypes
from duckdb.func import FunctionNullHandling

from tollgate.billing.catalogue.model import Catalogue
from tollgate.billing.cycles import Cycle
from tollgate.billing.pricing import usage_charge
from tollgate.billing.proration import stretch_amount

QUANTITY = duckdb.decimal_type(38, 9)


def register_pricing_functions(con: duckdb.DuckDBPyConnection, catalogue: Catalogue) -> None:
    def charge(plan: str, feature: str, dimension: str | None, quantity: Decimal) -> int:
        return usage_charge(catalogue.plan(plan), feature, quantity, dimension).amount

    def charge_exact(plan: str, feature: str, dimension: str | None, quantity: Decimal) -> str:
        exact = usage_charge(catalogue.plan(plan), feature, quantity, dimension).exact_amount
        return format(exact.normalize(), "f")

    def billable(plan: str, feature: str, quantity: Decimal) -> Decimal:
        return usage_charge(catalogue.plan(plan), feature, quantity).billable

    def dimension(plan: str, feature: str) -> str | None:
        plan_feature = catalogue.plan(plan).features.get(feature)
        return plan_feature.dimension if plan_feature else None

    def base_charge(
        plan: str, period_start: datetime, period_end: datetime, start: datetime, end: datetime
    ) -> int:
        cycle = Cycle(start, end, period_start, period_end)
        return stretch_amount(catalogue.plan(plan).base_price, cycle, start, end)

    text, timestamp = sqltypes.VARCHAR, sqltypes.TIMESTAMP_TZ
    functions: list[tuple[str, Callable[..., Any], list[Any], sqltypes.DuckDBPyType]]
    functions = [
        ("tollgate_usage_charge", charge, [text, text, text, QUANTITY], sqltypes.BIGINT),
        ("tollgate_usage_charge_exact", charge_exact, [text, text, text, QUANTITY], text),
        ("tollgate_billable_quantity", billable, [text, text, QUANTITY], QUANTITY),
        ("tollgate_pricing_dimension", dimension, [text, text], text),
        ("tollgate_base_charge", base_charge, [text, *[timestamp] * 4], sqltypes.BIGINT),
    ]
    for name, function, parameters, returns in functions:
        # "special": a NULL dimension is meaningful (no such property), not "result is NULL".
        con.create_function(
            name,
            function,
            parameters,
            returns,
            null_handling=FunctionNullHandling.SPECIAL,
            side_effects=False,
        )
