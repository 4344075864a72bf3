"""One run of ``tollgate demo`` for the tests that check what it made (its output, its data).

The demo is the README's quick start; running it once per test session and sharing the data
directory lets the CLI test read its report and the browser test show its data in the
dashboards, without paying for the demo twice.
"""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.support.server import free_port

CUSTOMERS = 50
EVENTS = 3000


@dataclass(frozen=True)
class DemoRun:
    data_dir: Path
    output: str
    returncode: int
    dashboard_port: int

    def key(self, pattern: str) -> str:
        """The key printed on the demo's line matching ``pattern`` (e.g. 'as customer')."""
        found = re.search(pattern + r"[^\n]*?(tg_[\w-]+)", self.output)
        assert found, f"no key after {pattern!r} in the demo's output:\n{self.output}"
        return found.group(1)


def run_demo(data_dir: Path) -> DemoRun:
    dashboard_port = free_port()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "tollgate",
            "demo",
            "--data-dir",
            str(data_dir),
            "--port",
            str(free_port()),
            "--dashboard-port",
            str(dashboard_port),
            "--customers",
            str(CUSTOMERS),
            "--events",
            str(EVENTS),
            "--no-keep-running",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return DemoRun(data_dir, result.stdout + result.stderr, result.returncode, dashboard_port)
