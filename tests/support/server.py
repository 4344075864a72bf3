"""A real ingest server process on 127.0.0.1 for end-to-end tests."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from ingest_api.settings import IngestSettings
from tollgate.control.api_keys import KeyStore, Scope
from tollgate.control.database import open_control_database


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until(predicate: object, timeout: float = 30.0, what: str = "condition") -> None:
    """Poll ``predicate`` until it is truthy; fail with ``what`` after ``timeout`` seconds."""
    assert callable(predicate)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@dataclass
class ServerKeys:
    ingest: str
    read: str
    admin: str


@dataclass
class TollgateServer:
    data_dir: Path
    port: int = field(default_factory=free_port)
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def settings(self) -> IngestSettings:
        return IngestSettings(data_dir=self.data_dir)

    def key_store(self) -> KeyStore:
        return KeyStore(open_control_database(self.settings.control_database_url), actor="tests")

    def create_keys(self) -> ServerKeys:
        store = self.key_store()
        return ServerKeys(
            ingest=store.create("tests-ingest", [Scope.INGEST]).token,
            read=store.create("tests-read", [Scope.READ]).token,
            admin=store.create("tests-admin", [Scope.ADMIN]).token,
        )

    def start(self) -> None:
        self.log_path = self.data_dir / f"server-{time.monotonic_ns()}.log"
        env = {
            **os.environ,
            "TOLLGATE_DATA_DIR": str(self.data_dir),
            "TOLLGATE_PORT": str(self.port),
            "TOLLGATE_WAL_SEGMENT_MAX_AGE": "1",
            **self.env,
        }
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tollgate", "serve"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_until(self._ready, timeout=60, what=f"server on {self.url} to be ready")

    def _ready(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"server exited early:\n{self.log()}")
        try:
            return httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path else ""

    def kill(self) -> None:
        """SIGKILL: no shutdown hooks run, as in a crash."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        """SIGTERM: graceful shutdown, WAL flushed and sealed."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=60)


async def eventually(predicate: Callable[[], bool], what: str, limit: float = 30.0) -> None:
    """``wait_until`` for code running on an event loop: polls without blocking the loop."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {limit}s waiting for {what}")
        await asyncio.sleep(0.005)
