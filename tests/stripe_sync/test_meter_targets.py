"""Stripe's meters receive the quantity Tollgate bills: usage above what the plan includes."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from tollgate.billing.catalogue import default_catalogue
from tollgate.stripe_sync.meter_targets import CycleUsage, meter_targets

START = datetime(2026, 11, 1, tzinfo=UTC)
END = datetime(2026, 12, 1, tzinfo=UTC)


def usage(plan: str, feature: str, quantity: str, dimension: str | None = None) -> CycleUsage:
    return CycleUsage(
        "cus_1", "cus_1/2026-11-01", START, END, plan, feature, dimension, Decimal(quantity)
    )


def test_the_included_quantity_is_not_sent() -> None:
    (target,) = meter_targets([usage("starter", "ai_tokens", "150000")], default_catalogue())
    assert target.event_name == "tollgate_ai_tokens"
    assert target.billable == Decimal(50000)  # 100,000 included


def test_usage_within_the_allowance_sends_zero_and_unpriced_features_send_nothing() -> None:
    targets = meter_targets(
        [usage("starter", "ai_tokens", "10"), usage("free", "api_calls", "900")],
        default_catalogue(),
    )
    assert [(t.event_name, t.billable) for t in targets] == [("tollgate_ai_tokens", Decimal(0))]


def test_dimension_values_go_to_their_meter_and_unlisted_ones_to_other() -> None:
    targets = meter_targets(
        [
            usage("pay_per_use", "ai_tokens", "300", "llama-3-70b"),
            usage("pay_per_use", "ai_tokens", "200", "gpt-4o"),
            usage("pay_per_use", "ai_tokens", "100", None),
        ],
        default_catalogue(),
    )
    assert {t.event_name: t.billable for t in targets} == {
        "tollgate_ai_tokens__llama_3_70b": Decimal(300),
        "tollgate_ai_tokens__other": Decimal(300),
    }


def test_a_feature_sent_in_smaller_units_is_metered_in_them_whole() -> None:
    (target,) = meter_targets([usage("starter", "storage", "22.5")], default_catalogue())
    assert target.billable == Decimal("12.5")  # 10 GB included
    assert target.value == 12_500_000_000  # bytes: storage events may come in bytes


def test_a_fraction_of_a_whole_unit_waits_until_it_adds_up() -> None:
    (target,) = meter_targets([usage("starter", "ai_tokens", "100002.75")], default_catalogue())
    assert (target.billable, target.value) == (Decimal("2.75"), 2)
