"""Starting the Streamlit dashboards (``dashboards/app.py``) as their own process.

The dashboards are a separate process from the ingest API on purpose: a slow page can never
hold up event ingest, and they read only the published marts and the control database, so
they need nothing from the API process. ``tollgate dashboards`` runs one in the foreground;
the demo and the browser test start one in the background with ``start_dashboards``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx
from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_fixed

import dashboards
from tollgate.background_server import BackgroundServer
from tollgate.settings import TollgateSettings

APP_FILE = Path(dashboards.__file__).resolve().parent / "app.py"
DEFAULT_PORT = 8501
READY_SECONDS = 60


def streamlit_command(host: str, port: int) -> list[str]:
    """``streamlit run`` for the app, as a server: no browser, no telemetry, no file watching."""
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP_FILE),
        "--server.address",
        host,
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--server.fileWatcherType",
        "none",
        "--browser.gatherUsageStats",
        "false",
        "--theme.base",
        "light",
        # No "Deploy" button: this is a served app, not a developer's session.
        "--client.toolbarMode",
        "viewer",
    ]


def dashboard_env(settings: TollgateSettings) -> dict[str, str]:
    """The environment that points the dashboards at ``settings``' data."""
    env = {**os.environ, "TOLLGATE_DATA_DIR": str(settings.data_dir.resolve())}
    if settings.control_url:
        env["TOLLGATE_CONTROL_URL"] = settings.control_url
    if settings.plans_file:
        env["TOLLGATE_PLANS_FILE"] = str(settings.plans_file.resolve())
    return env


def start_dashboards(
    settings: TollgateSettings, *, host: str = "127.0.0.1", port: int = DEFAULT_PORT, log: Path
) -> BackgroundServer:
    """Starts the dashboards in the background and returns once they answer their health check.

    Raises ``RuntimeError`` (naming ``log``) if the process exits or is not ready in time.
    """
    _require_free(host, port)
    with log.open("wb") as out:
        process = subprocess.Popen(
            streamlit_command(host, port),
            env=dashboard_env(settings),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = BackgroundServer(process, f"http://{host}:{port}")

    def healthy() -> None:
        if process.poll() is not None:
            raise RuntimeError(f"the dashboards exited with status {process.returncode}; see {log}")
        httpx.get(f"{server.url}/_stcore/health", timeout=2).raise_for_status()

    try:
        for attempt in Retrying(
            retry=retry_if_exception_type(httpx.HTTPError),
            stop=stop_after_delay(READY_SECONDS),
            wait=wait_fixed(0.2),
            reraise=True,
        ):
            with attempt:
                healthy()
    except httpx.HTTPError as error:
        server.stop()
        raise RuntimeError(
            f"the dashboards did not answer on {server.url} within {READY_SECONDS} s "
            f"({error}); see {log}"
        ) from error
    except RuntimeError:
        server.stop()
        raise
    return server


def _require_free(host: str, port: int) -> None:
    # Otherwise the health check could be answered by whatever already listens there.
    with socket.socket() as probe:
        try:
            probe.bind((host, port))
        except OSError as error:
            raise RuntimeError(
                f"cannot start the dashboards on {host}:{port}: {error.strerror}; "
                "stop what uses that port or choose another one (--dashboard-port, --port)"
            ) from error


def run_dashboards(settings: TollgateSettings, *, host: str, port: int) -> int:
    """Runs the dashboards in the foreground until interrupted; returns the exit status."""
    return subprocess.call(streamlit_command(host, port), env=dashboard_env(settings))
