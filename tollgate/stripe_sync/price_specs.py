"""The Stripe price that mirrors each catalogue price, as the parameters ``prices.create`` takes.

Metered prices apply to what the meter holds: the billable quantity above the plan's included
amount (see ``meter_targets``), so the price itself never needs an included tier. Unit and
tier amounts go as ``unit_amount_decimal`` (sub-cent prices such as $0.002 stay exact); a
package price is a unit price on ``transform_quantity`` (divide by the package size, round up),
as Stripe models packages. Amounts are per meter unit and bounds in meter units
(``meter_targets.meter_scale``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tollgate.billing.catalogue import Catalogue
from tollgate.billing.catalogue.model import (
    DimensionPrice,
    GraduatedPrice,
    PackagePrice,
    PerUnitPrice,
    Plan,
    SimplePrice,
    Tier,
    VolumePrice,
)
from tollgate.billing.pricing import decimal_text
from tollgate.stripe_sync.meter_targets import decimal_places, meter_dimension, meter_scale
from tollgate.stripe_sync.naming import (
    METADATA_DIMENSION,
    METADATA_FEATURE,
    METADATA_FINGERPRINT,
    METADATA_PLAN,
    OTHER_VALUES,
    base_price_key,
    meter_event_name,
    product_id,
    usage_price_key,
)

MAX_EVENT_NAME = 100  # Stripe's limit for a meter's event_name


class UnsupportedPriceError(ValueError):
    """A catalogue price Stripe cannot express exactly."""


@dataclass(frozen=True)
class PriceSpec:
    lookup_key: str
    plan: str
    feature: str | None  # None: the base price
    event_name: str | None  # the meter of a metered price
    params: dict[str, Any]  # prices.create parameters, except the meter id and metadata

    @property
    def fingerprint(self) -> str:
        """Changes whenever the price Stripe would charge changes (Stripe prices are immutable)."""
        charged = {key: value for key, value in self.params.items() if key != "nickname"}
        canonical = json.dumps({"params": charged, "event_name": self.event_name}, sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()[:32]

    def create_params(self, meter_id: str | None) -> dict[str, Any]:
        params: dict[str, Any] = json.loads(json.dumps(self.params))  # a deep copy
        if self.event_name is not None:
            if meter_id is None:
                raise ValueError(f"the metered price {self.lookup_key} needs its meter's id")
            params["recurring"]["meter"] = meter_id
        params["lookup_key"] = self.lookup_key
        params["transfer_lookup_key"] = True
        params["metadata"] = {
            METADATA_PLAN: self.plan,
            METADATA_FINGERPRINT: self.fingerprint,
            **({METADATA_FEATURE: self.feature} if self.feature else {}),
            **({METADATA_DIMENSION: _dimension_of(self.event_name)} if self.event_name else {}),
        }
        return params


def price_specs(catalogue: Catalogue) -> list[PriceSpec]:
    specs = []
    for name, plan in catalogue.plans.items():
        if plan.base_price > 0:
            specs.append(
                PriceSpec(
                    base_price_key(name),
                    name,
                    None,
                    None,
                    {
                        "currency": plan.currency,
                        "product": product_id(name),
                        "unit_amount": plan.base_price,
                        "recurring": {"interval": plan.interval.value, "usage_type": "licensed"},
                        "nickname": f"{plan.display_name} base price",
                    },
                )
            )
        for feature, plan_feature in plan.features.items():
            price = plan_feature.price
            if price is None:
                continue
            scale = meter_scale(catalogue.features[feature])
            if isinstance(price, DimensionPrice):
                _check_dimension_values(name, feature, price)
                values = [*sorted(price.prices), OTHER_VALUES]
                for value in values:
                    simple = price.prices.get(value, price.default)
                    dimension = meter_dimension(price, value)
                    specs.append(_metered(name, plan, feature, dimension, simple, scale))
            else:
                specs.append(_metered(name, plan, feature, None, price, scale))
    return specs


def _check_dimension_values(plan: str, feature: str, price: DimensionPrice) -> None:
    """Each listed value needs a meter of its own: names that would collide are refused."""
    seen: dict[str, str] = {}
    for value in sorted(price.prices):
        name = meter_event_name(feature, value)
        clash = seen.get(name) or (
            value if name == meter_event_name(feature, OTHER_VALUES) else None
        )
        if clash is not None or len(name) > MAX_EVENT_NAME:
            raise UnsupportedPriceError(
                f"plan {plan}, feature {feature}: the value {value!r} would be metered in "
                f"Stripe as {name!r}, which "
                + ("is too long" if clash is None else f"it shares with {clash!r}")
                + "; rename the value in the plan catalogue to sync it to Stripe"
            )
        seen[name] = value


def meter_event_names(catalogue: Catalogue) -> dict[str, str]:
    """Every meter the catalogue needs: event name -> feature."""
    return {
        spec.event_name: spec.feature
        for spec in price_specs(catalogue)
        if spec.event_name is not None and spec.feature is not None
    }


def _metered(
    plan_name: str,
    plan: Plan,
    feature: str,
    dimension: str | None,
    price: SimplePrice,
    scale: int,
) -> PriceSpec:
    where = f"plan {plan_name}, feature {feature}" + (f" ({dimension})" if dimension else "")
    params: dict[str, Any] = {
        "currency": plan.currency,
        "product": product_id(plan_name),
        "recurring": {"interval": plan.interval.value, "usage_type": "metered"},
        "nickname": f"{plan.display_name}: {feature}" + (f" ({dimension})" if dimension else ""),
    }
    if isinstance(price, PerUnitPrice):
        params["billing_scheme"] = "per_unit"
        params["unit_amount_decimal"] = _per_meter_unit(price.unit_amount, scale, where)
    elif isinstance(price, PackagePrice):
        params["billing_scheme"] = "per_unit"
        params["unit_amount_decimal"] = decimal_text(price.package_amount)
        params["transform_quantity"] = {
            "divide_by": _whole(price.package_size * scale, f"{where}: package_size"),
            "round": "up",
        }
    elif isinstance(price, GraduatedPrice | VolumePrice):
        params["billing_scheme"] = "tiered"
        params["tiers_mode"] = "graduated" if isinstance(price, GraduatedPrice) else "volume"
        params["tiers"] = [_tier(tier, scale, where) for tier in price.tiers]
    event_name = meter_event_name(feature, dimension)
    return PriceSpec(
        usage_price_key(plan_name, feature, dimension), plan_name, feature, event_name, params
    )


def _tier(tier: Tier, scale: int, where: str) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "up_to": "inf"
        if tier.up_to is None
        else _whole(tier.up_to * scale, f"{where}: tier up_to"),
        "unit_amount_decimal": _per_meter_unit(tier.unit_amount, scale, where),
    }
    if tier.flat_amount:
        spec["flat_amount_decimal"] = decimal_text(tier.flat_amount)
    return spec


def _per_meter_unit(amount: Decimal, scale: int, where: str) -> str:
    per_unit = amount / scale
    if decimal_places(per_unit) > 12:
        raise UnsupportedPriceError(
            f"{where}: {decimal_text(amount)} per unit is {decimal_text(per_unit)} per meter "
            f"unit (1/{scale} of a unit), more than the 12 decimal places Stripe accepts"
        )
    return decimal_text(per_unit)


def _whole(value: Decimal, what: str) -> int:
    if value != value.to_integral_value():
        raise UnsupportedPriceError(
            f"{what} is {decimal_text(value)}, but Stripe accepts only whole numbers there; "
            "use a whole number in the plan catalogue to sync it to Stripe"
        )
    return int(value)


def _dimension_of(event_name: str) -> str:
    _, _, dimension = event_name.partition("__")
    return dimension
