"""What one pipeline run works from: its "as of" moment.

Every asset of a run bills as of the same moment (the ``tollgate/as_of`` run tag, set by the
schedules and tests; otherwise the moment the run was created), so a re-run with the same tag
reproduces the same marts and invoices.
"""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg

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
