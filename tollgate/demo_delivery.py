"""The demo's stand-ins for a customer's mailbox and webhook receiver, on 127.0.0.1.

Notices the ingest API delivers land in ``<data>/demo-mail/*.eml`` (a real SMTP server,
aiosmtpd) and ``<data>/demo-webhooks.jsonl`` (a real HTTP server that checks each request's
signature as docs/notifications.md tells receivers to), so the demo shows delivery end to end
without any outside service.
"""

from __future__ import annotations

import json
import socket
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from tollgate.delivery.signing import HEADER, SignatureError, verify


class DemoMailbox:
    """Keeps every message it is sent as ``<dir>/<n>.eml``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = _free_port()
        self._count = 0
        self._lock = threading.Lock()
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)

    @property
    def received(self) -> int:
        with self._lock:
            return self._count

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        with self._lock:
            self._count += 1
            number = self._count
        content = envelope.original_content or envelope.content
        (self.directory / f"{number:04d}.eml").write_bytes(
            content if isinstance(content, bytes) else str(content).encode()
        )
        return "250 Message accepted for delivery"

    def start(self) -> DemoMailbox:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()


class DemoWebhooks:
    """Appends every webhook it receives to a JSON-lines file, with whether its signature is
    good for ``secret`` (set once the endpoint exists)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.secret = ""
        self._lock = threading.Lock()
        self._count = 0
        self._verified = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/tollgate-webhooks"

    @property
    def received(self) -> tuple[int, int]:
        """(requests, of which signed with the secret)."""
        with self._lock:
            return self._count, self._verified

    def start(self) -> DemoWebhooks:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _record(self, headers: dict[str, str], body: bytes) -> None:
        try:
            verify(self.secret, headers.get(HEADER), body)
            problem = None
        except SignatureError as error:
            problem = str(error)
        line = {
            "received_at": datetime.now(UTC).isoformat(),
            "signature_ok": problem is None,
            "signature_problem": problem,
            "delivery_id": headers.get("Tollgate-Delivery-Id"),
            "event": json.loads(body),
        }
        with self._lock:
            self._count += 1
            self._verified += problem is None
            with self.path.open("a", encoding="utf-8") as out:
                out.write(json.dumps(line) + "\n")

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver._record(dict(self.headers.items()), body)
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
