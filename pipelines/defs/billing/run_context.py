"""What one pipeline run works from: its "as of" moment, the settings, and dbt's variables.

Every asset of a run bills as of the same moment (the ``tollgate/as_of`` run tag, set by the
schedules and tests; otherwise the moment the run was created), so a re-run with the same tag
reproduces the same marts and invoices.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, date, datetime

import dagster as dg

from tollgate.control.snapshot import current_snapshot
from tollgate.settings import TollgateSettings

AS_OF_TAG = "tollgate/as_of"
# Every run that writes the warehouse carries this tag; the instance queue lets one run at a
# time hold it (dagster.yaml), because DuckDB allows a single writing process per file.
WAREHOUSE_TAG = "tollgate/warehouse"
WAREHOUSE_RUN_TAGS = {WAREHOUSE_TAG: "write"}


def run_as_of(context: dg.AssetExecutionContext) -> datetime:
    tagged = context.run.tags.get(AS_OF_TAG)
    if tagged:
        moment = datetime.fromisoformat(tagged)
        if moment.tzinfo is None:
            raise dg.Failure(f"run tag {AS_OF_TAG}={tagged!r} needs a UTC offset, e.g. ...Z")
        return moment.astimezone(UTC)
    record = context.instance.get_run_record_by_id(context.run_id)
    created = record.create_timestamp if record else datetime.now(UTC)
    return created.astimezone(UTC)


def export_settings_to_dbt(settings: TollgateSettings) -> None:
    """dbt runs as a subprocess and reads its profile from the environment: give it the exact
    (absolute) paths this process resolved, so Dagster and dbt open the same files."""
    os.environ["TOLLGATE_WAREHOUSE"] = str(settings.warehouse_path)
    os.environ["TOLLGATE_DATA_DIR"] = str(settings.data_dir.resolve())


def dbt_vars(
    settings: TollgateSettings,
    as_of: datetime,
    *,
    event_dates: tuple[date, date] | None = None,
) -> str:
    snapshot = current_snapshot(settings.control_snapshots_dir)
    values: dict[str, str | None] = {
        "data_dir": str(settings.data_dir.resolve()),
        "control_snapshot": str(snapshot) if snapshot else None,
        "as_of": as_of.isoformat(),
    }
    if event_dates:
        values["event_date_from"] = event_dates[0].isoformat()
        values["event_date_to"] = event_dates[1].isoformat()
    return json.dumps(values)
