"""One pricing engine, two consumers: Python and SQL (through the dbt plugin) agree exactly.

Random catalogues (every price model, random tiers and allowances) are written to a YAML file,
loaded by the dbt-duckdb plugin into a real DuckDB file connection, and random usage is priced
in one SQL query. The Python engine must give the identical integer for every row.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml
from dbt.adapters.duckdb.plugins import BasePlugin
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tollgate.billing.catalogue import Catalogue, GraduatedPrice, load_catalogue
from tollgate.billing.catalogue.loader import BUNDLED_CATALOGUE
from tollgate.billing.cycles import Cycle
from tollgate.billing.dbt_plugin import Plugin
from tollgate.billing.estimate import estimate
from tollgate.billing.pricing import FeatureUsage, usage_charge
from tollgate.billing.proration import stretch_amount

D = Decimal
DBT_PROJECT = Path(__file__).resolve().parents[2] / "dbt_project"
FEATURES = ["calls", "tokens", "storage", "seats", "jobs"]
DIMENSION_VALUES = [None, "a", "b", "gpt-4o", "llama-3-70b"]

ENGINE_SETTINGS = settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


# --- writing catalogues ----------------------------------------------------------------------


class _Dumper(yaml.SafeDumper):
    pass


def _represent_decimal(dumper: yaml.SafeDumper, value: Decimal) -> yaml.Node:
    # Unquoted numbers, as a person writes them: ints as ints, the rest as plain decimals
    # (which YAML resolves as floats and the loader reads from their text).
    text = format(value, "f")
    tag = "int" if value == value.to_integral_value() and "." not in text else "float"
    return dumper.represent_scalar(f"tag:yaml.org,2002:{tag}", text)


_Dumper.add_representer(Decimal, _represent_decimal)


def dump_catalogue(document: dict[str, Any]) -> str:
    return yaml.dump(document, Dumper=_Dumper, sort_keys=False)


# --- strategies ------------------------------------------------------------------------------

unit_amounts = st.one_of(
    st.just(D(0)),
    st.integers(0, 50_000).map(D),
    st.decimals(min_value=0, max_value=1_000, places=4),
    st.integers(1, 10**9).map(lambda n: D(n).scaleb(-12)),  # up to 12 decimal places
)
# Quantities fit the warehouse's decimal(38, 9).
quantities = st.one_of(
    st.just(D(0)),
    st.integers(0, 10**10).map(D),
    st.decimals(min_value=0, max_value=10**6, places=9),
)
tier_bounds = st.one_of(
    st.integers(1, 10**7).map(D), st.decimals(min_value=D("0.5"), max_value=10**5, places=2)
)


@st.composite
def tiers(draw: st.DrawFn) -> list[dict[str, Any]]:
    bounds: list[Decimal | str] = [*sorted(set(draw(st.lists(tier_bounds, max_size=4)))), "inf"]
    return [
        {"up_to": up_to, "unit_amount": draw(unit_amounts), "flat_amount": draw(unit_amounts)}
        for up_to in bounds
    ]


def simple_price(draw: st.DrawFn, model: str) -> dict[str, Any]:
    if model == "per_unit":
        return {"model": model, "unit_amount": draw(unit_amounts)}
    if model == "package":
        return {
            "model": model,
            "package_size": draw(tier_bounds),
            "package_amount": draw(unit_amounts),
        }
    return {"model": model, "tiers": draw(tiers())}


SIMPLE_MODELS = ["per_unit", "package", "graduated", "volume"]


def price(draw: st.DrawFn, model: str) -> dict[str, Any]:
    if model != "dimension":
        return simple_price(draw, model)
    values = draw(st.lists(st.sampled_from(["a", "b", "llama-3-70b"]), unique=True, max_size=3))
    return {
        "model": "dimension",
        "property": "model",
        "default": simple_price(draw, draw(st.sampled_from(SIMPLE_MODELS))),
        "prices": {v: simple_price(draw, draw(st.sampled_from(SIMPLE_MODELS))) for v in values},
    }


@st.composite
def catalogues(draw: st.DrawFn) -> dict[str, Any]:
    """A catalogue document: one plan with every price model, and a few random plans."""
    every_model = ["per_unit", "package", "graduated", "volume", "dimension"]
    plans: dict[str, Any] = {
        "every_model": {
            "display_name": "Every model",
            "billing_type": "pay_per_use",
            "base_price": 0,
            "features": {
                f: {"price": price(draw, m)} for f, m in zip(FEATURES, every_model, strict=True)
            },
        }
    }
    for index in range(draw(st.integers(1, 3))):
        billing_type = draw(st.sampled_from(["subscription", "hybrid", "pay_per_use"]))
        names = draw(st.lists(st.sampled_from(FEATURES), unique=True, min_size=1))
        features: dict[str, Any] = {}
        for position, name in enumerate(names):
            model = draw(st.sampled_from([*SIMPLE_MODELS, "dimension", None]))
            if billing_type != "subscription" and position == 0 and model is None:
                model = "per_unit"  # a plan that bills usage prices at least one feature
            if billing_type == "subscription":
                model = None
            feature: dict[str, Any] = {}
            if model is not None:
                feature["price"] = price(draw, model)
            if billing_type != "pay_per_use" and model != "dimension":
                feature["included"] = draw(quantities)
            if draw(st.booleans()):
                feature["limit"] = "unlimited"
            features[name] = feature
        plans[f"plan_{index}"] = {
            "display_name": f"Plan {index}",
            "billing_type": billing_type,
            "base_price": 0 if billing_type == "pay_per_use" else draw(st.integers(0, 10**6)),
            "features": features,
        }
    return {
        "features": {
            name: {"display_name": name.title(), "event_type": name, "unit": "unit"}
            for name in FEATURES
        },
        "plans": plans,
    }


Row = tuple[str, str, str | None, Decimal]


@st.composite
def usage_rows(draw: st.DrawFn, plans: list[str]) -> list[Row]:
    row = st.tuples(
        st.sampled_from(plans),
        st.sampled_from([*FEATURES, "unknown_feature"]),
        st.sampled_from(DIMENSION_VALUES),
        quantities,
    )
    return draw(st.lists(row, min_size=1, max_size=25))


# --- the SQL consumer ------------------------------------------------------------------------


@contextmanager
def sql_consumer(document: dict[str, Any]) -> Iterator[tuple[Catalogue, duckdb.DuckDBPyConnection]]:
    """The catalogue as the Python engine loads it, and a DuckDB file connection configured by
    the dbt plugin from the same file."""
    with tempfile.TemporaryDirectory() as directory:
        plans_file = Path(directory) / "plans.yaml"
        plans_file.write_text(dump_catalogue(document), encoding="utf-8")
        plugin = BasePlugin.create(
            "tollgate.billing.dbt_plugin", config={"plans_file": str(plans_file)}
        )
        assert isinstance(plugin, Plugin)
        con = duckdb.connect(str(Path(directory) / "warehouse.duckdb"))
        try:
            plugin.configure_connection(con)
            catalogue = load_catalogue(plans_file)
            # What the file holds is exactly what was generated: nothing rounded on the way.
            assert catalogue == Catalogue.model_validate(document)
            yield catalogue, con
        finally:
            con.close()


def load_usage(con: duckdb.DuckDBPyConnection, rows: list[Row]) -> None:
    con.execute(
        "create table usage (id integer, plan varchar, feature varchar, dimension varchar, "
        "quantity decimal(38, 9))"
    )
    if rows:
        con.executemany(
            "insert into usage values (?, ?, ?, ?, ?)",
            [(i, *row) for i, row in enumerate(rows)],
        )


@ENGINE_SETTINGS
@given(data=st.data(), document=catalogues())
def test_python_and_sql_price_every_row_identically(
    data: st.DataObject, document: dict[str, Any]
) -> None:
    with sql_consumer(document) as (catalogue, con):
        rows = data.draw(usage_rows(list(catalogue.plans)))
        load_usage(con, rows)
        sql = con.execute(
            """
            select
                id,
                tollgate_usage_charge(plan, feature, dimension, quantity),
                tollgate_usage_charge_exact(plan, feature, dimension, quantity),
                tollgate_billable_quantity(plan, feature, quantity),
                tollgate_pricing_dimension(plan, feature)
            from usage
            order by id
            """
        ).fetchall()
    assert [row[0] for row in sql] == list(range(len(rows)))
    for (plan, feature, dimension, quantity), (_, amount, exact, billable, split_by) in zip(
        rows, sql, strict=True
    ):
        charge = usage_charge(catalogue.plan(plan), feature, quantity, dimension)
        assert type(amount) is int
        assert amount == charge.amount, (plan, feature, dimension, quantity)
        assert D(exact) == charge.exact_amount
        assert billable == charge.billable
        plan_feature = catalogue.plan(plan).features.get(feature)
        assert split_by == (plan_feature.dimension if plan_feature else None)


@ENGINE_SETTINGS
@given(data=st.data(), document=catalogues())
def test_sql_invoice_totals_equal_the_estimate(
    data: st.DataObject, document: dict[str, Any]
) -> None:
    """A month's usage, aggregated per line in SQL as the pipeline does, costs under each plan
    exactly what `estimate` says."""
    with sql_consumer(document) as (catalogue, con):
        rows = [
            ("", feature, dimension, quantity)
            for _, feature, dimension, quantity in data.draw(usage_rows(["-"]))
            if feature != "unknown_feature"
        ]
        load_usage(con, rows)
        con.execute("create table plans (plan varchar)")
        con.executemany("insert into plans values (?)", [(name,) for name in catalogue.plans])
        period = (datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC))
        totals = dict(
            con.execute(
                """
                with lines as (
                    select
                        plans.plan,
                        usage.feature,
                        -- one line per dimension value only where the plan prices by one
                        case
                            when tollgate_pricing_dimension(plans.plan, usage.feature) is not null
                            then usage.dimension
                        end as dimension,
                        sum(usage.quantity) as quantity
                    from plans cross join usage
                    group by all
                ),
                charges as (
                    select plan, sum(tollgate_usage_charge(plan, feature, dimension, quantity))
                        as usage_amount
                    from lines
                    group by plan
                )
                select
                    plans.plan,
                    tollgate_base_charge(plans.plan, ?, ?, ?, ?)
                        + coalesce(charges.usage_amount, 0)
                from plans left join charges using (plan)
                """,
                [*period, *period],
            ).fetchall()
        )
    pattern: dict[str, dict[str | None, Decimal]] = defaultdict(lambda: defaultdict(D))
    for _, feature, dimension, quantity in rows:
        pattern[feature][dimension] += quantity
    usage: dict[str, FeatureUsage] = dict(pattern)
    expected = {plan.plan: plan.total for plan in estimate(catalogue, usage).plans}
    assert totals == expected
    assert all(type(total) is int for total in totals.values())


instants = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC)
)


@ENGINE_SETTINGS
@given(
    base_price=st.integers(0, 10**7),
    period_start=instants,
    # From one second (proration counts whole seconds) to more than a year.
    period_length=st.integers(10**6, 400 * 86_400 * 10**6).map(
        lambda us: timedelta(microseconds=us)
    ),
    cuts=st.lists(st.integers(0, 10**6), min_size=2, max_size=2),
    beyond=st.booleans(),
)
def test_sql_base_charge_is_the_proration_engine(
    base_price: int,
    period_start: datetime,
    period_length: timedelta,
    cuts: list[int],
    beyond: bool,
) -> None:
    period_end = period_start + period_length
    # Stretches inside the period; optionally reaching past its ends (clamped by the engine).
    low, high = sorted(cuts)
    start = period_start + period_length * low / 10**6
    end = period_start + period_length * high / 10**6
    if beyond:
        start -= timedelta(days=3)
        end += timedelta(days=3)
    document = {
        "features": {"calls": {"display_name": "Calls", "event_type": "call", "unit": "call"}},
        "plans": {
            "monthly": {
                "display_name": "Monthly",
                "billing_type": "subscription",
                "base_price": base_price,
            }
        },
    }
    with sql_consumer(document) as (_, con):
        ((sql,),) = con.execute(
            "select tollgate_base_charge('monthly', ?, ?, ?, ?)",
            [period_start, period_end, start, end],
        ).fetchall()
    cycle = Cycle(start, end, period_start, period_end)
    assert sql == stretch_amount(base_price, cycle, start, end)
    assert type(sql) is int


def test_the_whole_period_costs_the_base_price_in_sql() -> None:
    document = yaml.safe_load(BUNDLED_CATALOGUE.read_text(encoding="utf-8"))
    with sql_consumer(document) as (catalogue, con):
        march = [datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)]
        rows = [
            (
                name,
                *con.execute(
                    "select tollgate_base_charge(?, ?, ?, ?, ?)", [name, *march, *march]
                ).fetchall()[0],
            )
            for name in catalogue.plans
        ]
        # Started Mar 17 15:00 UTC on Starter (docs/pricing.md): 2,900 - round(2,900 x
        # 1,436,400 / 2,678,400) = 2,900 - 1,555 = 1,345.
        ((late,),) = con.execute(
            "select tollgate_base_charge('starter', ?, ?, ?, ?)",
            [*march, datetime(2026, 3, 17, 15, tzinfo=UTC), march[1]],
        ).fetchall()
    assert dict(rows) == {
        "free": 0,
        "starter": 2_900,
        "professional": 7_900,
        "enterprise": 19_900,
        "pay_per_use": 0,
    }
    assert late == 1_345


def test_bundled_catalogue_through_sql() -> None:
    # A yaml.safe_load round trip turns 0.2 into a float and back into "0.2" text; the bundled
    # numbers survive it, so SQL and Python still see the same catalogue.
    document = yaml.safe_load(BUNDLED_CATALOGUE.read_text(encoding="utf-8"))
    with sql_consumer(document) as (catalogue, con):
        assert catalogue == load_catalogue(BUNDLED_CATALOGUE)
        cases = [
            # (plan, feature, dimension, quantity, expected cents)
            ("pay_per_use", "api_calls", None, "1500", 20),  # 2 packages x 10
            ("pay_per_use", "ai_tokens", "llama-3-70b", "1234567", 92_593),  # x 0.075
            ("pay_per_use", "ai_tokens", None, "1234567", 185_185),  # x 0.15
            ("starter", "ai_tokens", None, "100001", 0),  # 0.15 rounds to 0
            ("starter", "storage", None, "12.5", 63),  # 62.5 rounds up
            ("professional", "ai_tokens", None, "6000000", 530_000),
            ("enterprise", "api_calls", None, "1000000000", 0),
        ]
        for plan, feature, dimension, quantity, expected in cases:
            ((amount,),) = con.execute(
                "select tollgate_usage_charge(?, ?, ?, ?::decimal(38, 9))",
                [plan, feature, dimension, quantity],
            ).fetchall()
            assert amount == expected, (plan, feature, dimension, quantity)
            assert (
                amount == usage_charge(catalogue.plan(plan), feature, D(quantity), dimension).amount
            )
        ((exact,),) = con.execute(
            "select tollgate_usage_charge_exact('pay_per_use', 'ai_tokens', null, 1234567)"
        ).fetchall()
        assert exact == "185185.05"
        with pytest.raises(duckdb.Error, match="no plan named 'gold'"):
            con.execute("select tollgate_usage_charge('gold', 'api_calls', null, 1)").fetchall()


def test_dumped_catalogue_reads_back_exactly() -> None:
    # The test's own YAML writer must not round anything: what it writes is what loads.
    document = {
        "features": {"calls": {"display_name": "Calls", "event_type": "call", "unit": "call"}},
        "plans": {
            "p": {
                "display_name": "P",
                "billing_type": "pay_per_use",
                "base_price": 0,
                "features": {
                    "calls": {
                        "price": {
                            "model": "graduated",
                            "tiers": [
                                {"up_to": D("1000.25"), "unit_amount": D("0.000000000001")},
                                {"up_to": "inf", "unit_amount": D("12345678901234567.1")},
                            ],
                        }
                    }
                },
            }
        },
    }
    text = dump_catalogue(document)
    assert "0.000000000001" in text
    assert "12345678901234567.1" in text
    with sql_consumer(document) as (catalogue, _):
        price = catalogue.plan("p").features["calls"].price
    assert isinstance(price, GraduatedPrice)
    assert [(t.up_to, t.unit_amount) for t in price.tiers] == [
        (D("1000.25"), D("1E-12")),
        (None, D("12345678901234567.1")),
    ]


# --- through real dbt ------------------------------------------------------------------------


def test_dbt_prices_with_the_configured_catalogue(tmp_path: Path) -> None:
    """`dbt show` on the project's profile: the plugin loads TOLLGATE_PLANS_FILE, not the bundled
    catalogue, and prices exactly as the Python engine does."""
    document = yaml.safe_load(BUNDLED_CATALOGUE.read_text(encoding="utf-8"))
    calls = document["plans"]["pay_per_use"]["features"]["api_calls"]
    # $0.37 per started 300 calls: 1,500 calls are 5 packages = 185 (the bundled price: 20).
    calls["price"] = {"model": "package", "package_size": 300, "package_amount": D("37")}
    plans_file = tmp_path / "plans.yaml"
    plans_file.write_text(dump_catalogue(document), encoding="utf-8")
    expected = usage_charge(
        load_catalogue(plans_file).plan("pay_per_use"), "api_calls", D(1500)
    ).amount
    assert expected == 185

    query = (
        "select tollgate_usage_charge('pay_per_use', 'api_calls', null, 1500) as amount, "
        "tollgate_usage_charge_exact('pay_per_use', 'ai_tokens', 'llama-3-70b', 1234567) "
        "as exact"
    )
    env = {
        **os.environ,
        "TOLLGATE_WAREHOUSE": str(tmp_path / "warehouse.duckdb"),
        "TOLLGATE_PLANS_FILE": str(plans_file),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    dbt = Path(sys.executable).parent / "dbt"
    result = subprocess.run(
        [
            str(dbt),
            "show",
            "--inline",
            query,
            "--profiles-dir",
            ".",
            "--output",
            "json",
            "--log-format",
            "json",
            # Keep dbt's artefacts out of the project: other runs may share it.
            "--target-path",
            str(tmp_path / "target"),
            "--log-path",
            str(tmp_path / "logs"),
        ],
        cwd=DBT_PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    shown = [
        json.loads(line)["data"]["preview"]
        for line in result.stdout.splitlines()
        if line.startswith("{") and '"preview"' in line
    ]
    assert len(shown) == 1, result.stdout
    assert json.loads(shown[0]) == [{"amount": expected, "exact": "92592.525"}]
