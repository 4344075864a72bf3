"""``python -m examples.metered_service --tollgate-url URL --api-key KEY [--port 8080]``."""

from __future__ import annotations

import argparse
import logging
import os

import uvicorn

from examples.metered_service.app import create_app
from tollgate.client import TollgateClient


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m examples.metered_service",
        description="Notes with AI summaries, metered by Tollgate. Serves on 127.0.0.1.",
    )
    parser.add_argument(
        "--tollgate-url",
        default=os.environ.get("TOLLGATE_URL"),
        help="Tollgate's ingest API [env: TOLLGATE_URL]",
    )
    parser.add_argument(
        "--api-key",
        default=os.environ.get("TOLLGATE_API_KEY"),
        help="a key with the ingest scope [env: TOLLGATE_API_KEY]",
    )
    parser.add_argument("--port", type=int, default=8080, help="port to serve on (default 8080)")
    args = parser.parse_args(argv)
    if not args.tollgate_url or not args.api_key:
        parser.error("--tollgate-url and --api-key (or TOLLGATE_URL, TOLLGATE_API_KEY) are needed")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    client = TollgateClient(args.tollgate_url, args.api_key, source="metered-service")
    try:
        uvicorn.run(create_app(client), host="127.0.0.1", port=args.port, log_level="info")
    finally:
        # Reached when uvicorn returns (e.g. it could not bind). After SIGINT/SIGTERM uvicorn
        # re-raises the signal instead, and the app's lifespan has already flushed the client.
        client.close()


if __name__ == "__main__":
    main()
