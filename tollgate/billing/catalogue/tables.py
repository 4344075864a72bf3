"""The catalogue as tables, for SQL: the dbt models ``dim_*`` are built from these.

SQL joins these tables for facts about plans and features (which event type a feature counts,
a plan's interval, a limit) but never for prices: amounts come from the pricing functions.
"""

from __future__ import annotations

from decimal import Decimal

import pyarrow as pa

from tollgate.billing.catalogue.model import Catalogue

_QUANTITY = pa.decimal128(38, 9)


def features_table(catalogue: Catalogue) -> pa.Table:
    names = sorted(catalogue.features)
    features = [catalogue.features[name] for name in names]
    return pa.table(
        {
            "feature": names,
            "display_name": [f.display_name for f in features],
            "event_type": [f.event_type for f in features],
            "unit": [f.unit for f in features],
            "aggregation": [f.aggregation.value for f in features],
        }
    )


def feature_units_table(catalogue: Catalogue) -> pa.Table:
    """Which (event type, unit) pairs are a feature's usage, and the factor to feature units."""
    rows: list[tuple[str, str, str, Decimal]] = []
    for name in sorted(catalogue.features):
        feature = catalogue.features[name]
        rows.append((feature.event_type, feature.unit, name, Decimal(1)))
        for unit, factor in sorted(feature.unit_conversions.items()):
            rows.append((feature.event_type, unit, name, factor))
    return pa.table(
        {
            "event_type": [row[0] for row in rows],
            "unit": [row[1] for row in rows],
            "feature": [row[2] for row in rows],
            "factor": pa.array([row[3] for row in rows], _QUANTITY),
        }
    )


def plans_table(catalogue: Catalogue) -> pa.Table:
    names = list(catalogue.plans)
    plans = [catalogue.plans[name] for name in names]
    return pa.table(
        {
            "plan": names,
            "display_name": [p.display_name for p in plans],
            "billing_type": [p.billing_type.value for p in plans],
            "currency": [p.currency for p in plans],
            "base_price": pa.array([p.base_price for p in plans], pa.int64()),
            "interval": [p.interval.value for p in plans],
            "cycle_anchor": [p.cycle_anchor.value for p in plans],
            "limit_reset": [p.limit_reset.value for p in plans],
            "plan_order": pa.array(range(len(names)), pa.int32()),
        }
    )


def plan_features_table(catalogue: Catalogue) -> pa.Table:
    rows = [
        (plan_name, feature_name, spec)
        for plan_name, plan in catalogue.plans.items()
        for feature_name, spec in sorted(plan.features.items())
    ]
    return pa.table(
        {
            "plan": [row[0] for row in rows],
            "feature": [row[1] for row in rows],
            "included": pa.array([row[2].included for row in rows], _QUANTITY),
            "limit_value": pa.array(
                [row[2].limit.value if row[2].limit else None for row in rows], _QUANTITY
            ),
            "enforcement": [
                row[2].limit.enforcement.value if row[2].limit else None for row in rows
            ],
            "is_priced": [row[2].price is not None for row in rows],
            "dimension": [row[2].dimension for row in rows],
        }
    )


def alert_thresholds_table(catalogue: Catalogue) -> pa.Table:
    thresholds = catalogue.alert_thresholds
    return pa.table(
        {
            "threshold_percent": pa.array([t.percent for t in thresholds], pa.int32()),
            "level": [t.level.value for t in thresholds],
        }
    )
