"""``tollgate``: the operator's command line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ingest_api.settings import IngestSettings
from tollgate.cli_common import (
    Actor,
    ControlUrl,
    DataDir,
    build_settings,
    control_engine,
    control_settings,
    default_actor,
    handles_errors,
)
from tollgate.cli_control import register
from tollgate.cli_pipeline import register as register_pipeline
from tollgate.control.api_keys import KeyStore, Scope, UnknownKeyError
from tollgate.dashboards_server import DEFAULT_PORT as DEFAULT_DASHBOARD_PORT
from tollgate.dashboards_server import run_dashboards

app = typer.Typer(
    help="Tollgate: usage-based billing. Run 'tollgate demo' to see it work end to end.",
    no_args_is_help=True,
    add_completion=False,
)
keys_app = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
register(app)
register_pipeline(app)


def _settings(data_dir: Path | None, **overrides: object) -> IngestSettings:
    return build_settings(IngestSettings, data_dir=data_dir, **overrides)


@app.command()
def serve(
    data_dir: DataDir = None,
    host: Annotated[
        str | None, typer.Option(help="Address to bind [env: TOLLGATE_HOST; default 127.0.0.1].")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Port to bind [env: TOLLGATE_PORT; default 8000].")
    ] = None,
    control_url: ControlUrl = None,
) -> None:
    """Run the ingest API (one process; see docs/architecture.md for why)."""
    from tollgate.server import run_server

    run_server(_settings(data_dir, host=host, port=port, control_url=control_url))


@keys_app.command("create")
@handles_errors
def keys_create(
    name: Annotated[str, typer.Option(help="Who the key is for, e.g. the service's name.")],
    scope: Annotated[
        list[Scope] | None,
        typer.Option(
            help="Scope(s) to grant; repeat for several. admin implies all. "
            "A customer's key (--customer) gets read only."
        ),
    ] = None,
    customer: Annotated[
        str | None,
        typer.Option(
            help="Make it this customer's own key: it reads and manages that customer's "
            "billing through the billing API, and nothing else."
        ),
    ] = None,
    data_dir: DataDir = None,
    control_url: ControlUrl = None,
    actor: Actor = None,
) -> None:
    """Create a key and print it once (only its hash is stored)."""
    scopes = scope or ([Scope.READ] if customer else [])
    with control_engine(_settings(data_dir, control_url=control_url)) as engine:
        created = KeyStore(engine, actor=actor or default_actor()).create(
            name, scopes, customer_id=customer
        )
    typer.echo(f"key id: {created.key.key_id}")
    typer.echo(f"scopes: {', '.join(sorted(created.key.scopes))}")
    if created.key.customer_id:
        typer.echo(f"acts for customer: {created.key.customer_id}")
    typer.echo(f"key:    {created.token}")
    typer.echo("Store the key now: it cannot be shown again.", err=True)


@keys_app.command("list")
@handles_errors
def keys_list(data_dir: DataDir = None, control_url: ControlUrl = None) -> None:
    """List keys (ids, names, scopes, state); never the keys themselves."""
    with control_engine(_settings(data_dir, control_url=control_url)) as engine:
        keys = KeyStore(engine).list()
    if not keys:
        typer.echo("No keys yet. Create one with: tollgate keys create --name NAME --scope ingest")
        return
    typer.echo(f"{'KEY ID':<10} {'NAME':<24} {'SCOPES':<20} {'CUSTOMER':<16} {'CREATED':<26} STATE")
    for key in keys:
        state = f"revoked {key.revoked_at}" if key.revoked_at else "active"
        scopes = ",".join(sorted(key.scopes))
        customer = key.customer_id or "-"
        typer.echo(
            f"{key.key_id:<10} {key.name:<24} {scopes:<20} {customer:<16} "
            f"{key.created_at:<26} {state}"
        )


@keys_app.command("revoke")
@handles_errors
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="The key id shown by 'tollgate keys list'.")],
    data_dir: DataDir = None,
    control_url: ControlUrl = None,
    actor: Actor = None,
) -> None:
    """Revoke a key; a running server refuses it from its next request."""
    try:
        with control_engine(_settings(data_dir, control_url=control_url)) as engine:
            key = KeyStore(engine, actor=actor or default_actor()).revoke(key_id)
    except UnknownKeyError:
        typer.echo(f"No key with id '{key_id}'. See 'tollgate keys list'.", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"revoked {key.key_id} ({key.name}) at {key.revoked_at}")


@app.command()
def dashboards(
    data_dir: DataDir = None,
    control_url: ControlUrl = None,
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to bind.")] = DEFAULT_DASHBOARD_PORT,
) -> None:
    """Run the Streamlit dashboards (customer billing and admin analytics) in the foreground."""
    settings = control_settings(data_dir, control_url)
    typer.echo(f"Dashboards on http://{host}:{port} (data in {settings.data_dir}); Ctrl-C stops.")
    typer.echo("Sign in with an API key: a customer's own (tollgate keys create --customer ID)")
    typer.echo("or an admin key (tollgate keys create --name ops --scope admin).")
    raise typer.Exit(run_dashboards(settings, host=host, port=port))


@app.command()
def demo(
    data_dir: Annotated[
        Path, typer.Option(help="Data directory of the demo (wiped at start).")
    ] = Path("demo-data"),
    port: Annotated[int, typer.Option(help="Port for the ingest API.")] = 8000,
    customers: Annotated[
        # At least three: the third (on Professional) is the one whose dashboards it shows.
        int, typer.Option(min=3, help="How many customers send traffic.")
    ] = 300,
    events: Annotated[int, typer.Option(help="How many events to post.")] = 20_000,
    keep_running: Annotated[
        bool,
        typer.Option(help="Keep the servers up after the traffic, until Ctrl-C."),
    ] = True,
    dashboard_port: Annotated[
        int, typer.Option(help="Port for the dashboards.")
    ] = DEFAULT_DASHBOARD_PORT,
) -> None:
    """Run Tollgate on embedded defaults with realistic traffic, and print what happened."""
    from tollgate.demo import run_demo

    run_demo(
        data_dir=data_dir,
        port=port,
        customers=customers,
        events=events,
        keep_running=keep_running,
        dashboard_port=dashboard_port,
    )


def main() -> None:
    app()
