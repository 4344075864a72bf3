"""The Dagster code location loads, and knows the events the ingest API publishes."""

from __future__ import annotations

import dagster as dg

from pipelines.definitions import defs


def test_code_location_loads_with_the_ingest_events_asset() -> None:
    keys = defs.resolve_asset_graph().get_all_asset_keys()
    assert dg.AssetKey(["ingest", "usage_events"]) in keys
