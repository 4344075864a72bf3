"""``tollgate pipeline run``: the billing pipeline in this process, without a Dagster daemon."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from tollgate.cli_common import ControlUrl, DataDir, PlansFile
from tollgate.settings import TollgateSettings

pipeline_app = typer.Typer(help="Run the billing pipeline (events -> invoices, limits, marts).")


def register(app: typer.Typer) -> None:
    app.add_typer(pipeline_app, name="pipeline")


@pipeline_app.command("run")
def run(
    data_dir: DataDir = None,
    control_url: ControlUrl = None,
    plans_file: PlansFile = None,
    as_of: Annotated[
        datetime | None,
        typer.Option(help="Bill as of this moment (UTC if no offset) [default: now]."),
    ] = None,
    close: Annotated[
        bool,
        typer.Option(help="Also finalize invoices whose cycle ended and waited out the grace."),
    ] = True,
) -> None:
    """Stage every event date, then refresh (or close) billing and publish the marts."""
    from pipelines.runner import PipelineRunError, run_pipeline

    overrides = {
        key: value
        for key, value in (
            ("data_dir", data_dir),
            ("control_url", control_url),
            ("plans_file", plans_file),
        )
        if value is not None
    }
    settings = TollgateSettings(**overrides)  # type: ignore[arg-type]
    moment = as_of or datetime.now(UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        run_pipeline(settings, moment, close=close)
    except PipelineRunError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(1) from None
    typer.echo(f"billed as of {moment.isoformat()}; marts published under {settings.marts_dir}")
