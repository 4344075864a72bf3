"""Resources shared by the billing assets."""

from __future__ import annotations

import dagster as dg
from dagster_dbt import DbtCliResource

from pipelines.defs.billing.project import dbt_project
from pipelines.defs.billing.settings_resource import TollgateResource


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(
        resources={"dbt": DbtCliResource(project_dir=dbt_project), "tollgate": TollgateResource()}
    )
