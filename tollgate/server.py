"""Runs the ingest API under uvicorn with the settings the CLI resolved."""

from __future__ import annotations

import logging

import uvicorn

from ingest_api.app import create_asgi
from ingest_api.settings import IngestSettings


def run_server(settings: IngestSettings) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    uvicorn.run(
        create_asgi(settings),
        host=settings.host,
        port=settings.port,
        # One process owns the WAL and dedup index; see docs/architecture.md.
        workers=1,
        loop="uvloop",
        http="httptools",
        access_log=False,
        # Per-request work this service does not need (it is not behind a proxy by default).
        proxy_headers=False,
        server_header=False,
        log_level="info",
    )
