"""What each Stripe meter should hold per customer and cycle: Tollgate's billable quantity.

Stripe's metered prices mirror the catalogue's price applied to the quantity *above* what the
plan includes (``tollgate.billing.pricing.usage_charge`` decides that quantity: the one rule,
used here as by the pipeline and the API). So the meter receives the billable quantity, not
raw usage, and Stripe's invoice for the cycle is Tollgate's. A price split by a dimension
(AI tokens by model) has a meter per listed value and one for every other value.

Stripe meters take whole numbers. A feature whose events come in smaller units (storage in GB,
also sent in bytes) is metered in its smallest unit (``meter_scale``: 10^9 meter units per GB)
and its Stripe prices are per that unit, so nothing is rounded. A feature metered in whole
units sends the whole part of a fractional total; the rest follows once it adds up to a unit
(the reconciliation check shows the difference meanwhile).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_FLOOR, Decimal

from tollgate.billing.catalogue import Catalogue
from tollgate.billing.catalogue.model import DimensionPrice, Feature
from tollgate.billing.pricing import usage_charge
from tollgate.stripe_sync.naming import OTHER_VALUES, meter_event_name


@dataclass(frozen=True, slots=True)
class CycleUsage:
    """One row of the published ``fct_cycle_usage``."""

    customer_id: str
    cycle_id: str
    cycle_start: datetime
    cycle_end: datetime
    plan: str
    feature: str
    dimension: str | None
    quantity: Decimal
    amount: int = 0  # minor units Tollgate charges for it (finalized and draft lines)


@dataclass(frozen=True, slots=True)
class MeterTarget:
    """The total a meter should have received for one customer and cycle."""

    customer_id: str
    cycle_id: str
    cycle_start: datetime
    cycle_end: datetime
    event_name: str
    billable: Decimal  # in the feature's unit
    value: int  # in meter units: what the meter should hold (billable x meter scale, floored)


def decimal_places(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    assert isinstance(exponent, int), "a finite quantity"
    return max(0, -exponent)


def meter_scale(feature: Feature) -> int:
    """Meter units per feature unit: 10^(decimal places of its smallest unit conversion)."""
    places = [decimal_places(factor) for factor in feature.unit_conversions.values()]
    return int(10 ** max([0, *places]))


def meter_dimension(price: DimensionPrice, value: str | None) -> str:
    return value if value is not None and value in price.prices else OTHER_VALUES


def meter_of(row: CycleUsage, catalogue: Catalogue) -> str | None:
    """The meter a row's usage goes to, or None if its plan does not bill it by usage."""
    plan = catalogue.plans.get(row.plan)
    plan_feature = plan.features.get(row.feature) if plan else None
    if plan_feature is None or plan_feature.price is None:
        return None
    price = plan_feature.price
    dimension = meter_dimension(price, row.dimension) if isinstance(price, DimensionPrice) else None
    return meter_event_name(row.feature, dimension)


def meter_targets(usage: Iterable[CycleUsage], catalogue: Catalogue) -> list[MeterTarget]:
    totals: dict[tuple[str, str, str], MeterTarget] = {}
    for row in usage:
        name = meter_of(row, catalogue)
        if name is None:
            continue  # never billed by usage: nothing for Stripe to meter
        plan = catalogue.plans[row.plan]
        billable = usage_charge(plan, row.feature, row.quantity, row.dimension).billable
        key = (row.customer_id, row.cycle_id, name)
        found = totals.get(key)
        total = billable if found is None else found.billable + billable
        scaled = total * meter_scale(catalogue.features[row.feature])
        value = int(scaled.to_integral_value(rounding=ROUND_FLOOR))
        totals[key] = MeterTarget(
            row.customer_id, row.cycle_id, row.cycle_start, row.cycle_end, name, total, value
        )
    return sorted(totals.values(), key=lambda t: (t.customer_id, t.cycle_start, t.event_name))


def meter_amounts(usage: Iterable[CycleUsage], catalogue: Catalogue) -> dict[str, int]:
    """What Tollgate charges per meter for ``usage`` (one customer's cycle)."""
    amounts: dict[str, int] = {}
    for row in usage:
        name = meter_of(row, catalogue)
        if name is not None:
            amounts[name] = amounts.get(name, 0) + row.amount
    return amounts
