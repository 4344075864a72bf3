"""The Stripe prices Tollgate creates charge what Tollgate's own pricing charges."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tollgate.billing.catalogue import Catalogue, default_catalogue
from tollgate.billing.catalogue.model import Plan
from tollgate.stripe_sync.price_specs import UnsupportedPriceError, price_specs


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return default_catalogue()


def by_key(catalogue: Catalogue) -> dict[str, dict[str, object]]:
    return {spec.lookup_key: spec.create_params("mtr_x") for spec in price_specs(catalogue)}


def test_sub_cent_unit_prices_are_sent_exactly(catalogue: Catalogue) -> None:
    params = by_key(catalogue)["tollgate:starter:ai_tokens"]
    assert params["unit_amount_decimal"] == "0.15"  # $0.0015 per token
    assert params["recurring"] == {"interval": "month", "usage_type": "metered", "meter": "mtr_x"}


def test_a_package_price_divides_and_rounds_up(catalogue: Catalogue) -> None:
    params = by_key(catalogue)["tollgate:starter:api_calls"]
    assert params["transform_quantity"] == {"divide_by": 1000, "round": "up"}
    assert params["unit_amount_decimal"] == "8"


def test_tiers_keep_their_mode_bounds_and_amounts(catalogue: Catalogue) -> None:
    params = by_key(catalogue)["tollgate:professional:ai_tokens"]
    assert params["billing_scheme"] == "tiered"
    assert params["tiers_mode"] == "graduated"
    assert params["tiers"] == [
        {"up_to": 4500000, "unit_amount_decimal": "0.1"},
        {"up_to": "inf", "unit_amount_decimal": "0.08"},
    ]


def test_a_price_by_dimension_has_a_price_per_listed_value_and_one_for_the_rest(
    catalogue: Catalogue,
) -> None:
    keys = by_key(catalogue)
    assert keys["tollgate:pay_per_use:ai_tokens:llama_3_70b"]["tiers_mode"] == "volume"
    other = keys["tollgate:pay_per_use:ai_tokens:other"]
    assert other["tiers"][0] == {"up_to": 1000000, "unit_amount_decimal": "0.2"}  # type: ignore[index]


def test_base_prices_are_licensed_and_free_plans_have_none(catalogue: Catalogue) -> None:
    keys = by_key(catalogue)
    assert keys["tollgate:starter:base"]["unit_amount"] == 2900
    assert keys["tollgate:starter:base"]["recurring"] == {
        "interval": "month",
        "usage_type": "licensed",
    }
    assert "tollgate:free:base" not in keys
    assert "tollgate:enterprise:base" in keys


def test_a_fingerprint_changes_with_the_price(catalogue: Catalogue) -> None:
    before = {spec.lookup_key: spec.fingerprint for spec in price_specs(catalogue)}
    starter = catalogue.plans["starter"]
    cheaper = starter.model_copy(update={"base_price": 1900})
    changed = catalogue.model_copy(update={"plans": {**catalogue.plans, "starter": cheaper}})
    after = {spec.lookup_key: spec.fingerprint for spec in price_specs(changed)}
    assert [key for key in before if before[key] != after[key]] == ["tollgate:starter:base"]


def test_a_price_stripe_cannot_express_is_refused_with_the_reason(catalogue: Catalogue) -> None:
    data = catalogue.model_dump()
    data["plans"]["starter"]["features"]["api_calls"]["price"] = {
        "model": "package",
        "package_size": Decimal("2.5"),
        "package_amount": Decimal(8),
    }
    odd = Catalogue.model_validate(data)
    with pytest.raises(UnsupportedPriceError, match=r"package_size is 2\.5.*whole numbers"):
        price_specs(odd)
    assert isinstance(odd.plans["starter"], Plan)


def test_storage_is_priced_per_byte_so_partial_gigabytes_bill_exactly(
    catalogue: Catalogue,
) -> None:
    params = by_key(catalogue)["tollgate:starter:storage"]
    assert params["unit_amount_decimal"] == "0.000000025"  # 25 cents per GB


def test_dimension_values_whose_meters_would_collide_are_refused(catalogue: Catalogue) -> None:
    data = catalogue.model_dump()
    prices = data["plans"]["pay_per_use"]["features"]["ai_tokens"]["price"]["prices"]
    prices["Llama 3 70B"] = prices["llama-3-70b"]
    clashing = Catalogue.model_validate(data)
    with pytest.raises(UnsupportedPriceError, match="tollgate_ai_tokens__llama_3_70b"):
        price_specs(clashing)
