"""dbt-duckdb plugin: gives every dbt connection the pricing engine's SQL functions.

Enabled in dbt_project/profiles.yml (``plugins: [{module: tollgate.billing.dbt_plugin}]``);
``config.plans_file`` (or TOLLGATE_PLANS_FILE) picks the catalogue, the bundled one by default.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dbt.adapters.duckdb.plugins import BasePlugin
from duckdb import DuckDBPyConnection

from tollgate.billing.catalogue import default_catalogue
from tollgate.billing.duckdb_functions import register_pricing_functions
from tollgate.settings import TollgateSettings


class Plugin(BasePlugin):
    def initialize(self, plugin_config: dict[str, Any]) -> None:
        configured = plugin_config.get("plans_file")
        # Otherwise the same setting every other Tollgate process reads (TOLLGATE_PLANS_FILE).
        self._plans_file = Path(configured) if configured else TollgateSettings().plans_file

    def configure_connection(self, conn: DuckDBPyConnection) -> None:
        register_pricing_functions(conn, default_catalogue(self._plans_file))
