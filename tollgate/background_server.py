"""A server Tollgate started as a child process (the demo's ingest API, the dashboards)."""

from __future__ import annotations

import signal
import subprocess
from dataclasses import dataclass


@dataclass
class BackgroundServer:
    process: subprocess.Popen[bytes]
    url: str

    def stop(self, timeout: float = 60) -> None:
        """SIGTERM, so it shuts down cleanly (the ingest API flushes its WAL); SIGKILL if it
        has not exited within ``timeout`` seconds."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
