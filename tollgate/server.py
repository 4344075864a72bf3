"""Runs the ingest API under uvicorn with the settings the CLI resolved."""

from __future__ import annotations

import gc
import logging

import uvicorn

from ingest_api.app import create_asgi
from ingest_api.settings import IngestSettings

# The request path allocates many short-lived objects (parsed events, tallies); with CPython's
# default generation-0 threshold (2,000) the cyclic collector ran so often that it took about a
# quarter of the server's time under load (docs/benchmarks.md, "Limits"). Nothing on that path
# builds reference cycles, so collecting less often costs little memory.
GC_THRESHOLDS = (50_000, 20, 20)


def run_server(settings: IngestSettings) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    gc.set_threshold(*GC_THRESHOLDS)
    asgi = create_asgi(settings)
    # Modules, the catalogue and the app live as long as the process: keep them out of every
    # later collection.
    gc.freeze()
    uvicorn.run(
        asgi,
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
