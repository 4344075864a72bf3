"""What one dbt invocation works on, handed to SQL as DuckDB variables, not dbt vars.

dbt re-parses the whole project whenever ``--vars`` change, and a run's "as of" moment changes
every run: seconds of parsing each time. So the pipeline passes these values in the
environment, and the dbt plugin sets them on every cursor (``SET VARIABLE``); the models read
them with ``getvariable()`` at run time, their compiled SQL never changes, and dbt's partial
parsing holds.

==============================  ==============================================================
``tollgate_data_dir``           VARCHAR, the data directory (events/, invoices/, ...)
``tollgate_control_snapshot``   VARCHAR, the control snapshot directory ``CURRENT`` names
``tollgate_as_of``              TIMESTAMPTZ, the moment the run bills as of
``tollgate_event_date_from``    DATE, first event date a partitioned load reloads (or NULL:
``tollgate_event_date_to``      DATE, last one                                  every date)
==============================  ==============================================================
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime

from tollgate.control.snapshot import current_snapshot
from tollgate.settings import TollgateSettings
from tollgate.warehouse.publication import quote_string

AS_OF_ENV = "TOLLGATE_AS_OF"
EVENT_DATE_FROM_ENV = "TOLLGATE_EVENT_DATE_FROM"
EVENT_DATE_TO_ENV = "TOLLGATE_EVENT_DATE_TO"


def run_environment(
    settings: TollgateSettings, as_of: datetime, event_dates: tuple[date, date] | None = None
) -> dict[str, str]:
    """The environment a dbt invocation needs: absolute paths, so dbt and its plugin open exactly
    the files this process resolved, whatever the working directory, and the run's parameters."""
    if as_of.tzinfo is None:
        raise ValueError(f"the run's as-of moment needs a time zone, got {as_of!r}")
    return {
        "TOLLGATE_WAREHOUSE": str(settings.warehouse_path),
        "TOLLGATE_DATA_DIR": str(settings.data_dir.resolve()),
        AS_OF_ENV: as_of.astimezone(UTC).isoformat(),
        EVENT_DATE_FROM_ENV: event_dates[0].isoformat() if event_dates else "",
        EVENT_DATE_TO_ENV: event_dates[1].isoformat() if event_dates else "",
    }


def variable_statements(
    settings: TollgateSettings, environ: Mapping[str, str], now: datetime
) -> list[str]:
    """``SET VARIABLE`` statements for one cursor; without an as-of in the environment (dbt run
    by hand) the invocation bills as of ``now``, one moment for all its models."""
    snapshot = current_snapshot(settings.control_snapshots_dir)
    as_of = datetime.fromisoformat(environ.get(AS_OF_ENV) or now.isoformat())
    if as_of.tzinfo is None:
        raise ValueError(f"{AS_OF_ENV}={environ[AS_OF_ENV]!r} needs a UTC offset")
    values = {
        "tollgate_data_dir": quote_string(str(settings.data_dir.resolve())),
        "tollgate_control_snapshot": quote_string(str(snapshot)) if snapshot else "NULL::VARCHAR",
        "tollgate_as_of": f"TIMESTAMPTZ '{as_of.astimezone(UTC).isoformat()}'",
        "tollgate_event_date_from": _date(environ.get(EVENT_DATE_FROM_ENV)),
        "tollgate_event_date_to": _date(environ.get(EVENT_DATE_TO_ENV)),
    }
    return [f"SET VARIABLE {name} = {value}" for name, value in values.items()]


def _date(value: str | None) -> str:
    return f"DATE '{date.fromisoformat(value).isoformat()}'" if value else "NULL::DATE"
