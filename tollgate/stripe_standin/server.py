"""Serving the stand-in: :class:`StripeStandin` runs it with uvicorn on 127.0.0.1 in a
background thread (for tests and the demo); :func:`main` runs it standalone."""

from __future__ import annotations

import argparse
import socket
import threading
import time
from types import TracebackType
from typing import Any

import stripe
import uvicorn

from tollgate.stripe_standin.app import build_app
from tollgate.stripe_standin.faults import Fault
from tollgate.stripe_standin.state import StandinState
from tollgate.stripe_standin.store import Store

Json = dict[str, Any]

DEFAULT_API_KEY = "sk_test_standin"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class StripeStandin:
    """A running stand-in. Use as a context manager, or call :meth:`start` / :meth:`stop`."""

    def __init__(
        self, *, port: int | None = None, api_keys: set[str] | None = None, now: int | None = None
    ) -> None:
        self.state = StandinState(api_keys=frozenset(api_keys) if api_keys else None)
        if now is not None:
            self.state.clock.set(now)
        self.port = port or _free_port()
        config = uvicorn.Config(
            build_app(self.state),
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="off",
            # Held (timeout-fault) requests must not stall shutdown.
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def store(self) -> Store:
        return self.state.store

    def start(self, timeout: float = 10.0) -> StripeStandin:
        self._thread = threading.Thread(target=self._server.run, name="stripe-standin", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"the Stripe stand-in did not start on {self.url}")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.state.close()

    def __enter__(self) -> StripeStandin:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def client(
        self, api_key: str = DEFAULT_API_KEY, *, max_network_retries: int = 0, timeout: float = 10.0
    ) -> stripe.StripeClient:
        """An official SDK client aimed at this stand-in."""
        return stripe.StripeClient(
            api_key,
            base_addresses={
                "api": self.url,
                "connect": self.url,
                "files": self.url,
                "meter_events": self.url,
            },
            max_network_retries=max_network_retries,
            http_client=stripe.RequestsClient(timeout=timeout),
        )

    # --- test controls (also reachable over HTTP under /_standin/) ----------------------

    def now(self) -> int:
        return self.state.clock.now()

    def set_time(self, now: int) -> None:
        self.state.clock.set(now)

    def advance(self, seconds: int) -> None:
        self.state.clock.advance(seconds)

    def inject_fault(
        self,
        method: str,
        path: str,
        kind: str,
        *,
        count: int = 1,
        hold_seconds: float = 30.0,
        rate: float | None = None,
        seed: int = 0,
    ) -> Fault:
        """The next ``count`` matching calls fail as ``kind``; with ``rate``, each matching
        call fails with that chance until ``count`` have failed."""
        return self.state.faults.add(method, path, kind, count, hold_seconds, rate, seed)

    def clear_faults(self) -> None:
        self.state.faults.clear()

    def request_count(self, method: str, path: str) -> int:
        return self.state.faults.count(method, path)

    def add_webhook_endpoint(self, url: str, enabled_events: list[str] | None = None) -> Json:
        """Registers an endpoint; the returned dict carries its ``secret`` (``whsec_…``)."""
        return self.state.add_webhook_endpoint(url, enabled_events)

    def deliveries(self) -> list[Json]:
        return list(self.state.dispatcher.deliveries)

    def redeliver(self, event_id: str, endpoint_id: str | None = None) -> None:
        self.state.dispatcher.redeliver(event_id, endpoint_id)

    def close_period(self, subscription_id: str, outcome: str = "paid") -> Json:
        """Ends the subscription's current period as Stripe would: the clock moves to the
        period end if it is earlier, an ``in_…`` invoice is issued and paid or failed."""
        return self.state.close_period(subscription_id, outcome)

    def pay_invoice(self, invoice_id: str) -> Json:
        return self.state.settle_invoice(invoice_id, "paid")

    def fail_invoice(self, invoice_id: str) -> Json:
        return self.state.settle_invoice(invoice_id, "failed")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A local stand-in for the Stripe API.")
    parser.add_argument("--port", type=int, default=12111)
    parser.add_argument(
        "--api-key",
        action="append",
        dest="api_keys",
        help="accept only this key (repeatable); default: any sk_test_ key",
    )
    args = parser.parse_args(argv)
    state = StandinState(api_keys=frozenset(args.api_keys) if args.api_keys else None)
    print(f"Stripe stand-in on http://127.0.0.1:{args.port}")
    try:
        uvicorn.run(
            build_app(state),
            host="127.0.0.1",
            port=args.port,
            log_level="info",
            timeout_graceful_shutdown=1,
        )
    finally:
        state.close()
