"""What pricing in SQL through the one Python engine costs, beside SQL doing its own arithmetic.

    ./dev python benchmarks/pricing.py [--rows 200000]

Builds a table of invoice lines (plan, feature, dimension value, quantity) like the pipeline
prices each cycle (one row per customer, feature and model), and prices it in DuckDB twice:
with ``tollgate_usage_charge`` (the registered Python engine, exact) and, as the baseline, a
plain SQL expression pricing every row at one per-unit rate (the cheapest thing SQL could do,
not a correct implementation of the catalogue). Prints JSON: lines/s of each and the ratio.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from decimal import Decimal

import duckdb
import pyarrow as pa

from tollgate.billing.catalogue import default_catalogue
from tollgate.billing.duckdb_functions import register_pricing_functions

PLANS = ("free", "starter", "professional", "enterprise", "pay_per_use")
FEATURES = ("api_calls", "ai_tokens", "storage")
MODELS = (None, "gpt-4o-mini", "claude-haiku", "llama-3-70b")


def lines(count: int, seed: int = 7) -> list[tuple[str, str, str | None, Decimal]]:
    rng = random.Random(seed)
    rows = []
    for _ in range(count):
        feature = rng.choice(FEATURES)
        quantity = Decimal(int(rng.lognormvariate(10, 2)))
        if feature == "storage":
            quantity = quantity / 1000
        model = rng.choice(MODELS) if feature == "ai_tokens" else None
        rows.append((rng.choice(PLANS), feature, model, quantity))
    return rows


def timed(con: duckdb.DuckDBPyConnection, sql: str) -> tuple[float, int]:
    started = time.perf_counter()
    (total,) = con.sql(sql).fetchall()[0]
    return time.perf_counter() - started, int(total)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=200_000)
    args = parser.parse_args()

    con = duckdb.connect()
    register_pricing_functions(con, default_catalogue())
    plans, features, dimensions, quantities = zip(*lines(args.rows), strict=True)
    generated = pa.table(
        {
            "plan": plans,
            "feature": features,
            "dimension": dimensions,
            "quantity": pa.array(quantities, pa.decimal128(38, 9)),
        }
    )
    con.register("generated", generated)
    con.execute("create table lines as select * from generated")

    engine_s, engine_total = timed(
        con,
        "select sum(tollgate_usage_charge(plan, feature, dimension, quantity)) from lines",
    )
    baseline_s, _ = timed(
        con, "select sum(round(quantity * 0.2::decimal(18, 6))::bigint) from lines"
    )
    con.close()
    print(
        json.dumps(
            {
                "rows": args.rows,
                "engine_lines_per_s": round(args.rows / engine_s),
                "engine_seconds": round(engine_s, 3),
                "engine_total_minor_units": engine_total,
                "baseline_plain_sql_lines_per_s": round(args.rows / baseline_s),
                "baseline_seconds": round(baseline_s, 4),
                "ratio_engine_to_baseline_time": round(engine_s / baseline_s, 1),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
