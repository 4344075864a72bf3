"""The dbt models' unit tests (tiers, proration, rounding, aggregation on fixed inputs).

Production builds leave them out (pipelines/defs/billing/dbt_in_process.py); here they run
against a warehouse the pipeline has built, which gives them their parents' column types.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from pipelines.defs.billing.dbt_in_process import invoke
from pipelines.defs.billing.project import dbt_project
from tests.pipelines.scenario import Event, Scenario, utc
from tollgate.billing.dbt_run import run_environment

AS_OF = utc(2026, 10, 10)


def test_every_unit_test_of_the_models_passes(tmp_path: Path) -> None:
    scenario = Scenario(tmp_path)
    control = scenario.control(utc(2026, 10, 1))
    control.create_customer("acme", name="Acme")
    control.subscribe("acme", "professional", at=utc(2026, 10, 1))
    scenario.publish([Event("acme", "api_call", 5, utc(2026, 10, 2))], received_at=utc(2026, 10, 2))
    scenario.run(AS_OF)

    result = invoke(
        dbt_project,
        ["test", "--select", "test_type:unit"],
        run_environment(scenario.settings, AS_OF),
    )

    results = result.result.results  # type: ignore[union-attr]
    outcomes = {r.node.name: str(r.status) for r in results if r.node.resource_type == "unit_test"}
    assert outcomes == dict.fromkeys(_declared_unit_tests(), "pass")
    assert result.success


def _declared_unit_tests() -> list[str]:
    names = []
    for path in (Path(dbt_project.project_dir) / "models").rglob("*.yml"):
        names += [test["name"] for test in yaml.safe_load(path.read_text()).get("unit_tests", [])]
    assert names, "no unit tests declared"
    return names
