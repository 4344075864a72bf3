"""A real HTTP server on 127.0.0.1 that receives webhooks, for the delivery tests and the demo.

Each path is an endpoint of its own: it can be told to answer with chosen statuses, or to hold
requests until released (a slow endpoint). Received requests are kept in order.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType


@dataclass(frozen=True)
class ReceivedRequest:
    path: str
    headers: dict[str, str]
    body: bytes
    answered: int


class WebhookReceiver:
    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._received: list[ReceivedRequest] = []
        self._statuses: dict[str, deque[int]] = {}
        self._holds: dict[str, threading.Event] = {}
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}{path}"

    def answer(self, path: str, *statuses: int) -> None:
        """The next requests to ``path`` get these statuses, in order; then 200."""
        self._statuses.setdefault(path, deque()).extend(statuses)

    def hold(self, path: str) -> None:
        """Requests to ``path`` wait until ``release`` (at most 60 s)."""
        self._holds[path] = threading.Event()

    def release(self, path: str) -> None:
        self._holds.pop(path).set()

    def received(self, path: str | None = None) -> list[ReceivedRequest]:
        with self._condition:
            return [r for r in self._received if path is None or r.path == path]

    def wait_for(
        self, count: int, path: str | None = None, timeout: float = 20.0
    ) -> list[ReceivedRequest]:
        deadline = time.monotonic() + timeout
        with self._condition:
            while (
                len(found := [r for r in self._received if path is None or r.path == path]) < count
            ):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"{len(found)} of {count} webhook(s) to {path or 'any path'} arrived "
                        f"within {timeout} s"
                    )
                self._condition.wait(left)
            return found

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        for event in self._holds.values():
            event.set()
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                hold = receiver._holds.get(self.path)
                if hold is not None:
                    hold.wait(60)
                queued = receiver._statuses.get(self.path)
                status = queued.popleft() if queued else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()
                with receiver._condition:
                    receiver._received.append(
                        ReceivedRequest(self.path, dict(self.headers.items()), body, status)
                    )
                    receiver._condition.notify_all()

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler
