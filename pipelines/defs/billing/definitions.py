"""Resources shared by the billing assets."""

from __future__ import annotations

import dagster as dg

from pipelines.defs.billing.settings_resource import TollgateResource


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(resources={"tollgate": TollgateResource()})
