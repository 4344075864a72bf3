"""The plan catalogue's shape: plans, features, limits and prices, validated on load.

Amounts are in the plan currency's minor units (cents for USD). Unit prices and tier amounts
may be fractions of a minor unit (``unit_amount: 0.2`` is $0.002), as Stripe's
``unit_amount_decimal``; base prices are whole minor units.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

Name = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
# Nine decimal places, as event quantities have (decimal(38, 9) in Parquet and in SQL).
Quantity = Annotated[Decimal, Field(ge=0, allow_inf_nan=False, decimal_places=9)]
PositiveQuantity = Annotated[Decimal, Field(gt=0, allow_inf_nan=False, decimal_places=9)]
# Stripe accepts at most 12 decimal places in unit_amount_decimal; so do we, so that every
# price here can be synced to Stripe unchanged.
MinorAmount = Annotated[Decimal, Field(ge=0, allow_inf_nan=False, decimal_places=12)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BillingType(StrEnum):
    # The base price covers everything; usage never adds to the bill.
    SUBSCRIPTION = "subscription"
    # No base price; everything used is billed.
    PAY_PER_USE = "pay_per_use"
    # A base price with included quantities, and usage above them billed.
    HYBRID = "hybrid"


class Interval(StrEnum):
    MONTH = "month"
    YEAR = "year"


class CycleAnchor(StrEnum):
    # Cycles renew on the subscription start's day of month (Stripe's billing_cycle_anchor).
    ANNIVERSARY = "anniversary"
    # Cycles run from the 1st of the month (or year) in the customer's time zone.
    CALENDAR = "calendar"


class LimitReset(StrEnum):
    CYCLE = "cycle"
    CALENDAR_MONTH = "calendar_month"


class Aggregation(StrEnum):
    SUM = "sum"
    COUNT = "count"
    MAX = "max"
    LAST = "last"


class Enforcement(StrEnum):
    HARD = "hard"  # usage beyond the limit is refused
    SOFT = "soft"  # usage beyond the limit is allowed and warned about


class Tier(_Strict):
    # None is "inf": the last tier has no upper bound.
    up_to: PositiveQuantity | None
    unit_amount: MinorAmount = Decimal(0)
    flat_amount: MinorAmount = Decimal(0)

    @field_validator("up_to", mode="before")
    @classmethod
    def _inf_is_unbounded(cls, value: object) -> object:
        if isinstance(value, str) and value.strip().lower() in {"inf", ".inf", "infinity"}:
            return None
        return value


def _check_tiers(tiers: list[Tier]) -> list[Tier]:
    if not tiers:
        raise ValueError("needs at least one tier")
    bounds = [tier.up_to for tier in tiers]
    if bounds[-1] is not None:
        raise ValueError("the last tier must have up_to: inf")
    finite = [bound for bound in bounds[:-1] if bound is not None]
    if len(finite) != len(bounds) - 1:
        raise ValueError("only the last tier may have up_to: inf")
    if any(b <= a for a, b in itertools.pairwise(finite)):
        raise ValueError(f"up_to must increase from tier to tier, got {[str(b) for b in finite]}")
    return tiers


class PerUnitPrice(_Strict):
    model: Literal["per_unit"]
    unit_amount: MinorAmount


class PackagePrice(_Strict):
    """``package_amount`` per started ``package_size`` units (partial packages round up)."""

    model: Literal["package"]
    package_size: PositiveQuantity
    package_amount: MinorAmount


class GraduatedPrice(_Strict):
    """Each unit is priced by the tier it falls in; a tier's flat fee once any unit reaches it."""

    model: Literal["graduated"]
    tiers: Annotated[list[Tier], AfterValidator(_check_tiers)]


class VolumePrice(_Strict):
    """Every unit is priced at the tier the total falls in, plus that tier's flat fee."""

    model: Literal["volume"]
    tiers: Annotated[list[Tier], AfterValidator(_check_tiers)]


SimplePrice = Annotated[
    PerUnitPrice | PackagePrice | GraduatedPrice | VolumePrice, Field(discriminator="model")
]


class DimensionPrice(_Strict):
    """A price per value of an event property (AI tokens priced by ``model``)."""

    model: Literal["dimension"]
    property: Annotated[str, Field(min_length=1)]
    prices: dict[str, SimplePrice] = Field(default_factory=dict)
    # Values not listed above; required so that no event is ever left unpriced.
    default: SimplePrice

    def price_for(self, value: str | None) -> SimplePrice:
        if value is None:
            return self.default
        return self.prices.get(value, self.default)


Price = Annotated[
    PerUnitPrice | PackagePrice | GraduatedPrice | VolumePrice | DimensionPrice,
    Field(discriminator="model"),
]


class Limit(_Strict):
    value: Quantity
    enforcement: Enforcement


class Feature(_Strict):
    """Something plans meter: which events count and how they add up."""

    display_name: str
    # Events of this type are this feature's usage, whatever their own ``feature`` field says
    # (that one names the endpoint or product area, e.g. "notes.list", for analytics).
    event_type: Annotated[str, Field(min_length=1)]
    unit: str
    aggregation: Aggregation = Aggregation.SUM
    # Event units other than ``unit`` and how many feature units one of them is
    # (storage in GB: MB: 0.001). Events in any other unit are not this feature's usage.
    unit_conversions: dict[str, PositiveQuantity] = Field(default_factory=dict)


class PlanFeature(_Strict):
    included: Quantity = Decimal(0)
    # None, or the word "unlimited" in the file, is no limit.
    limit: Limit | None = None
    # None: usage is never billed (covered by the base price).
    price: Price | None = None

    @field_validator("limit", mode="before")
    @classmethod
    def _unlimited(cls, value: object) -> object:
        if isinstance(value, str) and value.strip().lower() == "unlimited":
            return None
        return value

    @model_validator(mode="after")
    def _dimension_has_no_shared_allowance(self) -> Self:
        if isinstance(self.price, DimensionPrice) and self.included:
            raise ValueError(
                "a price by dimension cannot be combined with an included quantity (which "
                "dimension would use it up first is ambiguous); use included: 0, or a first "
                "tier at unit_amount 0 in each dimension's price"
            )
        return self

    @property
    def dimension(self) -> str | None:
        """The event property usage is split by for pricing, if any."""
        return self.price.property if isinstance(self.price, DimensionPrice) else None


class Plan(_Strict):
    display_name: str
    description: str = ""
    billing_type: BillingType
    currency: Annotated[str, Field(pattern=r"^[a-z]{3}$")] = "usd"
    base_price: Annotated[int, Field(ge=0)]
    interval: Interval = Interval.MONTH
    cycle_anchor: CycleAnchor = CycleAnchor.ANNIVERSARY
    limit_reset: LimitReset = LimitReset.CYCLE
    features: dict[Name, PlanFeature] = Field(default_factory=dict)
    perks: list[str] = Field(default_factory=list)

    @field_validator("currency", mode="before")
    @classmethod
    def _lower_currency(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _billing_type_consistent(self) -> Self:
        priced = [name for name, feature in self.features.items() if feature.price is not None]
        if self.billing_type is BillingType.PAY_PER_USE and self.base_price:
            raise ValueError("a pay_per_use plan has base_price: 0; use hybrid for base + usage")
        if self.billing_type is BillingType.SUBSCRIPTION and priced:
            raise ValueError(
                f"a subscription plan bills no usage, but features {priced} have a price; "
                "remove the prices or make the plan hybrid"
            )
        if self.billing_type is not BillingType.SUBSCRIPTION and not priced:
            raise ValueError(
                f"a {self.billing_type.value} plan bills usage, but no feature has a price"
            )
        return self


class AlertLevel(StrEnum):
    WARNING = "warning"
    CRITICAL = "critical"
    EXCEEDED = "exceeded"


class AlertThreshold(_Strict):
    percent: Annotated[int, Field(gt=0, le=1000)]
    level: AlertLevel


DEFAULT_THRESHOLDS = (
    AlertThreshold(percent=75, level=AlertLevel.WARNING),
    AlertThreshold(percent=90, level=AlertLevel.CRITICAL),
    AlertThreshold(percent=100, level=AlertLevel.EXCEEDED),
)


class Catalogue(_Strict):
    features: dict[Name, Feature]
    plans: dict[Name, Plan]
    # Usage alerts as percentages of a limit, lowest first.
    alert_thresholds: tuple[AlertThreshold, ...] = DEFAULT_THRESHOLDS

    @field_validator("alert_thresholds")
    @classmethod
    def _ascending(cls, value: tuple[AlertThreshold, ...]) -> tuple[AlertThreshold, ...]:
        percents = [threshold.percent for threshold in value]
        if percents != sorted(set(percents)):
            raise ValueError(f"percents must be distinct and ascending, got {percents}")
        return value

    @model_validator(mode="after")
    def _one_feature_per_event_type(self) -> Self:
        seen: dict[str, str] = {}
        for name, feature in self.features.items():
            if feature.event_type in seen:
                raise ValueError(
                    f"features '{seen[feature.event_type]}' and '{name}' both count events of "
                    f"type '{feature.event_type}'; each event type belongs to one feature"
                )
            seen[feature.event_type] = name
        return self

    def feature_for_event_type(self, event_type: str) -> str | None:
        return next((name for name, f in self.features.items() if f.event_type == event_type), None)

    @model_validator(mode="after")
    def _plans_use_known_features(self) -> Self:
        problems = undefined_features(
            {name: list(plan.features) for name, plan in self.plans.items()}, self.features
        )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def plan(self, name: str) -> Plan:
        try:
            return self.plans[name]
        except KeyError:
            raise UnknownPlanError(name, sorted(self.plans)) from None


def undefined_features(
    plan_features: Mapping[str, Iterable[str]], defined: Iterable[str]
) -> list[str]:
    """One problem per plan that lists features the catalogue does not define."""
    known = sorted(defined)
    problems = []
    for plan_name, features in plan_features.items():
        unknown = sorted(set(features) - set(known))
        if unknown:
            problems.append(
                f"plan '{plan_name}' uses features {unknown} that are not defined under "
                f"features: (defined: {known})"
            )
    return problems


class UnknownPlanError(LookupError):
    def __init__(self, name: str, known: list[str]) -> None:
        super().__init__(f"no plan named '{name}'; the catalogue has: {', '.join(known)}")
        self.name = name
