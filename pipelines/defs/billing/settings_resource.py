"""Tollgate's settings as a Dagster resource, read when a run starts (not at import)."""

from __future__ import annotations

import dagster as dg

from tollgate.settings import TollgateSettings


class TollgateResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """Reads TOLLGATE_* from the environment of the process running the step."""

    def settings(self) -> TollgateSettings:
        return TollgateSettings()
