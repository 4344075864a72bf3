"""dbt-duckdb plugin: gives every dbt connection the pricing engine's SQL functions.

Enabled in dbt_project/profiles.yml (``plugins: [{module: tollgate.billing.dbt_plugin}]``);
``config.plans_file`` (or TOLLGATE_PLANS_FILE) picks the catalogue, the bundled one by default.
The catalogue's Python models (``dim_*``) read the same catalogue through ``catalogue()``. Every
cursor gets the run's parameters as DuckDB variables (``tollgate.billing.dbt_run``).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dbt.adapters.duckdb.plugins import BasePlugin
from duckdb import DuckDBPyConnection, sqltypes

from tollgate.billing.catalogue import Catalogue, default_catalogue
from tollgate.billing.dbt_run import variable_statements
from tollgate.billing.duckdb_functions import register_pricing_functions
from tollgate.settings import TollgateSettings

_plans_file: Path | None = None
_variables: list[str] = []


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
        # dbt-duckdb opens the database once per invocation (and keeps the plugin across
        # in-process invocations): read the run's parameters here, once for all its cursors.
        settings = TollgateSettings()
        _variables[:] = variable_statements(settings, os.environ, datetime.now(UTC))
        register_pricing_functions(conn, catalogue())
        grace = settings.finalization_grace_seconds
        conn.create_function(
            "tollgate_finalization_grace_seconds", lambda: grace, [], sqltypes.BIGINT
        )

    def configure_cursor(self, cursor: DuckDBPyConnection) -> None:
        # DuckDB variables belong to one connection, and dbt works through cursors.
        for statement in _variables:
            cursor.execute(statement)
