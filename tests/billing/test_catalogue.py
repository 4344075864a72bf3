"""The plan catalogue: the bundled plans carry the seed's numbers, and bad files fail clearly."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import BaseModel

from tollgate.billing.catalogue import (
    Catalogue,
    CatalogueError,
    DimensionPrice,
    GraduatedPrice,
    PackagePrice,
    PerUnitPrice,
    Tier,
    UnknownPlanError,
    VolumePrice,
    default_catalogue,
    load_catalogue,
)
from tollgate.billing.catalogue.loader import BUNDLED_CATALOGUE, parse_catalogue
from tollgate.billing.catalogue.model import (
    AlertLevel,
    BillingType,
    Enforcement,
    Limit,
)

D = Decimal

FEATURES = """\
features:
  api_calls: {display_name: API calls, event_type: api_call, unit: call}
  ai_tokens: {display_name: AI tokens, event_type: ai_tokens, unit: token}
plans:
"""


def problems_of(plans_yaml: str) -> list[str]:
    """The problems the loader reports for FEATURES + ``plans_yaml`` (which must be invalid)."""
    text = FEATURES + textwrap.indent(textwrap.dedent(plans_yaml), "  ")
    with pytest.raises(CatalogueError) as caught:
        parse_catalogue(text, Path("plans.yaml"))
    return caught.value.problems


def walk(value: object) -> Iterator[object]:
    """Every value inside a loaded catalogue: model fields, dict keys and values, items."""
    yield value
    if isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from walk(getattr(value, name))
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from walk(key)
            yield from walk(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from walk(item)


# --- the bundled catalogue -------------------------------------------------------------------


@pytest.fixture(scope="module")
def bundled() -> Catalogue:
    return load_catalogue(BUNDLED_CATALOGUE)


def test_bundled_catalogue_has_the_five_plans_in_order(bundled: Catalogue) -> None:
    assert list(bundled.plans) == ["free", "starter", "professional", "enterprise", "pay_per_use"]
    assert {name: plan.base_price for name, plan in bundled.plans.items()} == {
        "free": 0,
        "starter": 2900,
        "professional": 7900,
        "enterprise": 19900,
        "pay_per_use": 0,
    }
    assert {name: plan.billing_type for name, plan in bundled.plans.items()} == {
        "free": BillingType.SUBSCRIPTION,
        "starter": BillingType.HYBRID,
        "professional": BillingType.HYBRID,
        "enterprise": BillingType.SUBSCRIPTION,
        "pay_per_use": BillingType.PAY_PER_USE,
    }
    assert all(plan.currency == "usd" for plan in bundled.plans.values())
    assert list(bundled.features) == ["api_calls", "ai_tokens", "storage"]
    assert bundled.features["storage"].unit_conversions == {
        "byte": D("0.000000001"),
        "KB": D("0.000001"),
        "MB": D("0.001"),
    }
    assert [(t.percent, t.level) for t in bundled.alert_thresholds] == [
        (75, AlertLevel.WARNING),
        (90, AlertLevel.CRITICAL),
        (100, AlertLevel.EXCEEDED),
    ]


def test_included_quantities_match_the_seed(bundled: Catalogue) -> None:
    included = {
        name: {feature: pf.included for feature, pf in plan.features.items()}
        for name, plan in bundled.plans.items()
    }
    assert included == {
        "free": {"api_calls": 1_000, "ai_tokens": 10_000},
        "starter": {"api_calls": 10_000, "ai_tokens": 100_000, "storage": 10},
        "professional": {"api_calls": 50_000, "ai_tokens": 500_000, "storage": 50},
        "enterprise": {"api_calls": 0, "ai_tokens": 0, "storage": 0},
        "pay_per_use": {"api_calls": 0, "ai_tokens": 0, "storage": 0},
    }


def test_free_plan_is_hard_limited_and_has_no_storage(bundled: Catalogue) -> None:
    free = bundled.plan("free")
    assert free.features["api_calls"].limit == Limit(value=D(1000), enforcement=Enforcement.HARD)
    assert free.features["ai_tokens"].limit == Limit(value=D(10000), enforcement=Enforcement.HARD)
    assert "storage" not in free.features
    assert all(pf.price is None for pf in free.features.values())


def test_enterprise_is_unlimited_with_priority_support(bundled: Catalogue) -> None:
    enterprise = bundled.plan("enterprise")
    assert set(enterprise.features) == {"api_calls", "ai_tokens", "storage"}
    # `limit: unlimited` in the file is no limit at all.
    assert all(pf.limit is None for pf in enterprise.features.values())
    assert all(pf.price is None for pf in enterprise.features.values())
    assert enterprise.perks == ["Priority support"]


def test_starter_and_professional_prices(bundled: Catalogue) -> None:
    starter = bundled.plan("starter").features
    assert starter["api_calls"].price == PackagePrice(
        model="package", package_size=D(1000), package_amount=D(8)
    )
    assert starter["ai_tokens"].price == PerUnitPrice(model="per_unit", unit_amount=D("0.15"))
    assert starter["storage"].price == PerUnitPrice(model="per_unit", unit_amount=D(25))
    assert starter["api_calls"].limit == Limit(value=D(10000), enforcement=Enforcement.SOFT)

    professional = bundled.plan("professional").features
    assert professional["api_calls"].price == PerUnitPrice(model="per_unit", unit_amount=D("0.006"))
    assert professional["ai_tokens"].price == GraduatedPrice(
        model="graduated",
        tiers=[
            Tier(up_to=D(4_500_000), unit_amount=D("0.1")),
            Tier(up_to=None, unit_amount=D("0.08")),
        ],
    )


def test_pay_per_use_prices(bundled: Catalogue) -> None:
    ppu = bundled.plan("pay_per_use")
    assert ppu.base_price == 0
    # $0.10 per (started) 1,000 calls.
    assert ppu.features["api_calls"].price == PackagePrice(
        model="package", package_size=D(1000), package_amount=D(10)
    )
    tokens = ppu.features["ai_tokens"].price
    assert isinstance(tokens, DimensionPrice)
    assert tokens.property == "model"
    assert ppu.features["ai_tokens"].dimension == "model"
    # $0.002 per token = 0.2 cents, cheaper per token past 1M and 10M (volume discounts).
    assert tokens.default == VolumePrice(
        model="volume",
        tiers=[
            Tier(up_to=D(1_000_000), unit_amount=D("0.2")),
            Tier(up_to=D(10_000_000), unit_amount=D("0.15")),
            Tier(up_to=None, unit_amount=D("0.1")),
        ],
    )
    assert set(tokens.prices) == {"llama-3-70b"}
    assert tokens.price_for("llama-3-70b") is tokens.prices["llama-3-70b"]
    assert tokens.price_for("gpt-x") is tokens.default
    assert tokens.price_for(None) is tokens.default
    assert ppu.features["storage"].price == PerUnitPrice(model="per_unit", unit_amount=D(30))


def test_no_number_in_the_loaded_catalogue_is_a_float(bundled: Catalogue) -> None:
    values = list(walk(bundled))
    assert not [value for value in values if isinstance(value, float)]
    decimals = [value for value in values if isinstance(value, Decimal)]
    assert len(decimals) > 30
    # The file's 0.2 is exactly two tenths, not the float nearest to it.
    assert D("0.2") in decimals
    assert D(0.2) not in decimals


def test_yaml_numbers_are_read_from_their_text() -> None:
    # 0.1 + 0.2 != 0.3 in floats; here the unit amounts are the decimals written in the file.
    text = FEATURES + textwrap.indent(
        textwrap.dedent("""\
            metered:
              display_name: Metered
              billing_type: pay_per_use
              base_price: 0
              features:
                api_calls:
                  price:
                    model: graduated
                    tiers:
                      - {up_to: 1_000.5, unit_amount: 0.1, flat_amount: 0.2}
                      - {up_to: Infinity, unit_amount: 0.000000000001}
            """),
        "  ",
    )
    price = parse_catalogue(text, Path("plans.yaml")).plan("metered").features["api_calls"].price
    assert isinstance(price, GraduatedPrice)
    first, last = price.tiers
    assert first.up_to == D("1000.5")
    assert first.unit_amount + first.flat_amount == D("0.3")
    assert str(first.unit_amount) == "0.1"
    assert last.up_to is None
    assert last.unit_amount == D("1E-12")
    assert not [value for value in walk(price) if isinstance(value, float)]


def test_unknown_plan_names_the_known_ones(bundled: Catalogue) -> None:
    with pytest.raises(UnknownPlanError, match="no plan named 'gold'") as caught:
        bundled.plan("gold")
    assert str(caught.value) == (
        "no plan named 'gold'; the catalogue has: "
        "enterprise, free, pay_per_use, professional, starter"
    )


# --- invalid catalogues ----------------------------------------------------------------------

PPU = """\
metered:
  display_name: Metered
  billing_type: pay_per_use
  base_price: 0
  features:
"""


def test_tiers_out_of_order() -> None:
    problems = problems_of(
        PPU
        + """\
    api_calls:
      price:
        model: graduated
        tiers:
          - {up_to: 100, unit_amount: 1}
          - {up_to: 50, unit_amount: 1}
          - {up_to: inf, unit_amount: 1}
"""
    )
    assert len(problems) == 1
    assert problems == [
        "plan 'metered', feature 'api_calls', field 'price.tiers': "
        "up_to must increase from tier to tier, got ['100', '50']"
    ]


@pytest.mark.parametrize("model", ["graduated", "volume"])
def test_last_tier_must_be_unbounded(model: str) -> None:
    problems = problems_of(
        PPU
        + f"""\
    ai_tokens:
      price:
        model: {model}
        tiers:
          - {{up_to: 100, unit_amount: 1}}
"""
    )
    assert problems == [
        "plan 'metered', feature 'ai_tokens', field 'price.tiers': "
        "the last tier must have up_to: inf"
    ]


def test_only_the_last_tier_may_be_unbounded() -> None:
    problems = problems_of(
        PPU
        + """\
    api_calls:
      price:
        model: volume
        tiers:
          - {up_to: inf, unit_amount: 2}
          - {up_to: 10, unit_amount: 1}
          - {up_to: inf, unit_amount: 1}
"""
    )
    assert problems == [
        "plan 'metered', feature 'api_calls', field 'price.tiers': "
        "only the last tier may have up_to: inf"
    ]


def test_empty_tiers() -> None:
    problems = problems_of(PPU + "    api_calls: {price: {model: graduated, tiers: []}}\n")
    assert problems == [
        "plan 'metered', feature 'api_calls', field 'price.tiers': needs at least one tier"
    ]


def test_typo_in_a_field_name_is_named() -> None:
    problems = problems_of(PPU + "    api_calls: {price: {model: per_unit, unit_amout: 1}}\n")
    assert sorted(problems) == [
        "plan 'metered', feature 'api_calls', field 'price.unit_amount': required field is missing",
        "plan 'metered', feature 'api_calls', field 'price.unit_amout': "
        "unknown field (check its spelling against docs/pricing.md)",
    ]


def test_typo_in_a_tier_field_names_the_tier() -> None:
    problems = problems_of(
        PPU
        + """\
    api_calls:
      price:
        model: graduated
        tiers:
          - {up_to: 100, unit_amount: 1}
          - {up_to: inf, unit_amount: 1, flat_fee: 5}
"""
    )
    assert problems == [
        "plan 'metered', feature 'api_calls', field 'price.tiers[1].flat_fee': "
        "unknown field (check its spelling against docs/pricing.md)"
    ]


def test_negative_unit_amount() -> None:
    problems = problems_of(PPU + "    ai_tokens: {price: {model: per_unit, unit_amount: -0.5}}\n")
    assert problems == [
        "plan 'metered', feature 'ai_tokens', field 'price.unit_amount': "
        "Input should be greater than or equal to 0"
    ]


def test_more_than_twelve_decimals() -> None:
    ok = PPU + "    api_calls: {price: {model: per_unit, unit_amount: 0.000000000001}}\n"
    parse_catalogue(FEATURES + textwrap.indent(ok, "  "), Path("plans.yaml"))
    problems = problems_of(
        PPU + "    api_calls: {price: {model: per_unit, unit_amount: 0.0000000000001}}\n"
    )
    assert problems == [
        "plan 'metered', feature 'api_calls', field 'price.unit_amount': "
        "Decimal input should have no more than 12 decimal places"
    ]


@pytest.mark.parametrize("value", [".nan", ".inf", "-.inf"])
def test_nan_and_infinite_amounts_are_rejected(value: str) -> None:
    problems = problems_of(
        PPU + f"    api_calls: {{price: {{model: per_unit, unit_amount: {value}}}}}\n"
    )
    assert len(problems) == 1
    assert problems[0].startswith("plan 'metered', feature 'api_calls', field 'price.unit_amount'")


def test_unknown_price_model() -> None:
    problems = problems_of(PPU + "    api_calls: {price: {model: tiered, unit_amount: 1}}\n")
    assert len(problems) == 1
    assert problems[0].startswith("plan 'metered', feature 'api_calls', field 'price': ")
    assert "'per_unit', 'package', 'graduated', 'volume', 'dimension'" in problems[0]


def test_zero_package_size() -> None:
    problems = problems_of(
        PPU + "    api_calls: {price: {model: package, package_size: 0, package_amount: 10}}\n"
    )
    assert problems == [
        "plan 'metered', feature 'api_calls', field 'price.package_size': "
        "Input should be greater than 0"
    ]


def test_unknown_feature() -> None:
    problems = problems_of(PPU + "    sms: {price: {model: per_unit, unit_amount: 1}}\n")
    assert problems == [
        "catalogue: plan 'metered' uses features ['sms'] that are not defined under features: "
        "(defined: ['ai_tokens', 'api_calls'])"
    ]


def test_pay_per_use_with_a_base_price() -> None:
    problems = problems_of(
        PPU.replace("base_price: 0", "base_price: 500")
        + "    api_calls: {price: {model: per_unit, unit_amount: 1}}\n"
    )
    assert problems == [
        "plan 'metered': a pay_per_use plan has base_price: 0; use hybrid for base + usage"
    ]


def test_subscription_plan_with_prices() -> None:
    problems = problems_of("""\
        gold:
          display_name: Gold
          billing_type: subscription
          base_price: 500
          features:
            api_calls: {included: 10}
            ai_tokens: {price: {model: per_unit, unit_amount: 1}}
        """)
    assert len(problems) == 1
    assert problems[0].startswith("plan 'gold': a subscription plan bills no usage, but ")
    assert "features ['ai_tokens'] have a price" in problems[0]


def test_hybrid_plan_without_prices() -> None:
    problems = problems_of("""\
        gold:
          display_name: Gold
          billing_type: hybrid
          base_price: 500
          features:
            api_calls: {included: 10}
        """)
    assert problems == ["plan 'gold': a hybrid plan bills usage, but no feature has a price"]


def test_dimension_price_with_an_included_quantity() -> None:
    problems = problems_of("""\
        gold:
          display_name: Gold
          billing_type: hybrid
          base_price: 500
          features:
            ai_tokens:
              included: 1000
              price:
                model: dimension
                property: model
                default: {model: per_unit, unit_amount: 0.2}
        """)
    assert len(problems) == 1
    assert problems[0].startswith("plan 'gold', feature 'ai_tokens': a price by dimension ")
    assert "included quantity" in problems[0]


def test_dimension_price_needs_a_default() -> None:
    problems = problems_of(
        PPU
        + """\
    ai_tokens:
      price:
        model: dimension
        property: model
        prices: {llama: {model: per_unit, unit_amount: 0.1}}
"""
    )
    assert problems == [
        "plan 'metered', feature 'ai_tokens', field 'price.default': required field is missing"
    ]


def test_fractional_base_price() -> None:
    problems = problems_of(
        PPU.replace("pay_per_use", "hybrid").replace("base_price: 0", "base_price: 9.99")
        + "    api_calls: {price: {model: per_unit, unit_amount: 1}}\n"
    )
    assert problems == [
        "plan 'metered', field 'base_price': "
        "Input should be a valid integer, got a number with a fractional part"
    ]


def test_every_problem_is_reported_not_only_the_first() -> None:
    problems = problems_of("""\
        one:
          display_name: One
          billing_type: pay_per_use
          base_price: 0
          features:
            api_calls: {price: {model: per_unit, unit_amount: -1}}
            ai_tokens: {price: {model: volume, tiers: [{up_to: 5, unit_amount: 1}]}}
        two:
          display_name: Two
          billing_type: pay_per_use
          base_price: 100
          features:
            api_calls: {price: {model: per_unit, unit_amount: 1}}
        three:
          display_name: Three
          billing_type: monthly
          base_price: 0
          features:
            api_calls: {included: lots}
        """)
    assert sorted(problems) == [
        "plan 'one', feature 'ai_tokens', field 'price.tiers': the last tier must have up_to: inf",
        "plan 'one', feature 'api_calls', field 'price.unit_amount': "
        "Input should be greater than or equal to 0",
        "plan 'three', feature 'api_calls', field 'included': Input should be a valid decimal",
        "plan 'three', field 'billing_type': "
        "Input should be 'subscription', 'pay_per_use' or 'hybrid'",
        "plan 'two': a pay_per_use plan has base_price: 0; use hybrid for base + usage",
    ]


def test_an_unknown_feature_is_reported_alongside_field_errors() -> None:
    problems = problems_of("""\
        one:
          display_name: One
          billing_type: pay_per_use
          base_price: 0
          features:
            api_calls: {price: {model: per_unit, unit_amount: -1}}
        two:
          display_name: Two
          billing_type: pay_per_use
          base_price: 0
          features:
            sms: {price: {model: per_unit, unit_amount: 1}}
        """)
    assert any("sms" in problem for problem in problems)


def test_catalogue_level_problems() -> None:
    text = """\
features: {}
alert_thresholds: [{percent: 90, level: warning}, {percent: 75, level: critical}]
colour: blue
"""
    with pytest.raises(CatalogueError) as caught:
        parse_catalogue(text, Path("plans.yaml"))
    assert caught.value.problems == [
        "field 'plans': required field is missing",
        "field 'alert_thresholds': percents must be distinct and ascending, got [90, 75]",
        "field 'colour': unknown field (check its spelling against docs/pricing.md)",
    ]


def test_two_features_cannot_count_the_same_event_type() -> None:
    text = FEATURES.replace("event_type: ai_tokens", "event_type: api_call")
    with pytest.raises(CatalogueError) as caught:
        parse_catalogue(text.replace("plans:\n", "plans: {}\n"), Path("plans.yaml"))
    assert caught.value.problems == [
        "catalogue: features 'api_calls' and 'ai_tokens' both count events of type 'api_call'; "
        "each event type belongs to one feature"
    ]


def test_feature_definition_problems_name_the_feature() -> None:
    with pytest.raises(CatalogueError) as caught:
        parse_catalogue(
            "features:\n"
            "  storage: {display_name: Storage, event_type: storage, unit: GB, aggregation: avg}\n"
            "plans: {}\n",
            Path("plans.yaml"),
        )
    assert caught.value.problems == [
        "feature definition 'storage', field 'aggregation': "
        "Input should be 'sum', 'count', 'max' or 'last'"
    ]


def test_bad_yaml(tmp_path: Path) -> None:
    path = tmp_path / "plans.yaml"
    path.write_text("features: {api_calls: [\nplans:\n", encoding="utf-8")
    with pytest.raises(CatalogueError) as caught:
        load_catalogue(path)
    assert len(caught.value.problems) == 1
    assert caught.value.problems[0].startswith("not valid YAML: ")
    assert caught.value.path == path
    assert str(path) in str(caught.value)


@pytest.mark.parametrize("text", ["", "- free\n- starter\n", "just text\n"])
def test_yaml_that_is_not_a_mapping(text: str) -> None:
    with pytest.raises(CatalogueError) as caught:
        parse_catalogue(text, Path("plans.yaml"))
    assert caught.value.problems == ["expected a mapping with 'features:' and 'plans:'"]


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.yaml"
    with pytest.raises(CatalogueError) as caught:
        load_catalogue(path)
    assert caught.value.problems == ["cannot read the file: No such file or directory"]
    with pytest.raises(CatalogueError, match="cannot read the file"):
        default_catalogue(path)


def test_error_message_lists_every_problem(tmp_path: Path) -> None:
    path = tmp_path / "plans.yaml"
    path.write_text("features: {}\nplans: {}\ncolour: blue\nsize: 3\n", encoding="utf-8")
    with pytest.raises(CatalogueError) as caught:
        load_catalogue(path)
    assert str(caught.value) == (
        f"invalid plan catalogue {path}:\n"
        "  - field 'colour': unknown field (check its spelling against docs/pricing.md)\n"
        "  - field 'size': unknown field (check its spelling against docs/pricing.md)"
    )


# --- default_catalogue ------------------------------------------------------------------------


def test_default_catalogue_is_the_bundled_one(bundled: Catalogue) -> None:
    assert default_catalogue() == bundled
    assert default_catalogue() is default_catalogue()  # cached while the file is unchanged


def test_default_catalogue_rereads_a_changed_file(tmp_path: Path) -> None:
    path = tmp_path / "plans.yaml"
    text = BUNDLED_CATALOGUE.read_text(encoding="utf-8")
    path.write_text(text, encoding="utf-8")
    first = default_catalogue(path)
    assert first.plan("starter").base_price == 2900
    assert default_catalogue(path) is first

    path.write_text(text.replace("base_price: 2900", "base_price: 3900"), encoding="utf-8")
    # Make sure the modification time differs even on a coarse-grained file system.
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert default_catalogue(path).plan("starter").base_price == 3900

    # A change that breaks the file is reported, not hidden behind the cached good copy.
    path.write_text(text.replace("base_price: 2900", "base_price: -1"), encoding="utf-8")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 2_000_000_000))
    with pytest.raises(CatalogueError, match="plan 'starter', field 'base_price'"):
        default_catalogue(path)


def test_yaml_infinity_spelling_is_an_unbounded_last_tier() -> None:
    text = FEATURES + textwrap.indent(
        textwrap.dedent("""\
        payg:
          display_name: PAYG
          billing_type: pay_per_use
          base_price: 0
          features:
            api_calls:
              price:
                model: graduated
                tiers: [{up_to: 10, unit_amount: 2}, {up_to: .inf, unit_amount: 1}]
        """),
        "  ",
    )
    price = parse_catalogue(text, Path("plans.yaml")).plan("payg").features["api_calls"].price
    assert isinstance(price, GraduatedPrice)
    assert [tier.up_to for tier in price.tiers] == [D(10), None]


def test_quantities_have_at_most_nine_decimals_like_event_quantities() -> None:
    problems = problems_of("""\
        starter:
          display_name: Starter
          billing_type: hybrid
          base_price: 100
          features:
            api_calls:
              included: 0.0000000001
              price: {model: per_unit, unit_amount: 1}
        """)
    assert len(problems) == 1
    assert problems[0].startswith("plan 'starter', feature 'api_calls', field 'included':")
    assert "9 decimal places" in problems[0]
