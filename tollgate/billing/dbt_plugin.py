"""dbt-duckdb plugin: gives every dbt connection the pricing engine's SQL functions.

Enabled in dbt_project/profiles.yml (``plugins: [{module: tollgate.billing.dbt_plugin}]``);
``config.plans_file`` (or TOLLGATE_PLANS_FILE) picks the catalogue, the bundled one by default.
The catalogue's Python models (``dim_*``) read the same catalogue through ``catalogue()``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dbt.adapters.duckdb.plugins import BasePlugin
from duckdb import DuckDBPyConnection, sqltypes

from tollgate.billing.catalogue import Catalogue, default_catalogue
from tollgate.billing.duckdb_functions import register_pricing_functions
from tollgate.settings import TollgateSettings

_plans_file: Path | None = None


def catalogue() -> Catalogue:
    """The catalogue this dbt invocation prices with."""
    return default_catalogue(_plans_file)


class Plugin(BasePlugin):
    def initialize(self, plugin_config: dict[str, Any]) -> None:
        global _plans_file
        configured = plugin_config.get("plans_file")
        # Otherwise the same setting every other Tollgate process reads (TOLLGATE_PLANS_FILE).
        _plans_file = Path(configured) if configured else TollgateSettings().plans_file

    def configure_connection(self, conn: DuckDBPyConnection) -> None:
        register_pricing_functions(conn, catalogue())
        grace = TollgateSettings().finalization_grace_seconds
        conn.create_function(
            "tollgate_finalization_grace_seconds", lambda: grace, [], sqltypes.BIGINT
        )
