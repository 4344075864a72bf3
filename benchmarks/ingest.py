"""Ingest throughput and latency of the real server, beside the in-process Parquet ceiling.

Starts `tollgate serve` (fsync on) on 127.0.0.1, drives it with wrk from another process
(a Python load generator would measure itself), then writes the same number of events straight
to Parquet with pyarrow in-process. Prints JSON. Run: ``./dev python benchmarks/ingest.py``.
Needs wrk (``apt-get install -y wrk``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa
import pyarrow.parquet as pq

from ingest_api.auth.keys import KeyStore, Scope
from tests.support.server import TollgateServer

LUA = Path(__file__).with_name("ingest_load.lua")
SCENARIOS = (  # (name, events per request, connections)
    ("single_event", 1, 64),
    ("batch_100", 100, 32),
    ("batch_1000", 1000, 8),
)


def _wrk(
    url: str, key: str, batch: int, connections: int, seconds: int, run: str
) -> dict[str, Any]:
    env = {
        **os.environ,
        "TOLLGATE_BENCH_BATCH": str(batch),
        "TOLLGATE_BENCH_KEY": key,
        "TOLLGATE_BENCH_RUN": run,
    }
    out = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            "-s",
            str(LUA),
            f"{url}/v1/events",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    requests_per_s = float(_search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(_search(r"(\d+) requests in", out).group(1))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {
        "events_per_request": batch,
        "connections": connections,
        "requests_per_s": round(requests_per_s),
        "events_per_s": round(requests_per_s * batch),
        "latency_p50_ms": _percentile(out, "50"),
        "latency_p99_ms": _percentile(out, "99"),
        "requests": total,
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
        "socket_errors": errors.group(1) if errors else None,
    }


def _search(pattern: str, text: str) -> re.Match[str]:
    match = re.search(pattern, text, re.MULTILINE)
    if match is None:
        raise RuntimeError(f"no {pattern!r} in:\n{text}")
    return match


def _percentile(out: str, pct: str) -> float:
    match = _search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)\s*$", out)
    value, unit = float(match.group(1)), match.group(2)
    return round(value * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit], 3)


def _accepted(url: str) -> int:
    metrics = httpx.get(f"{url}/metrics").text
    return int(float(_search(r"^tollgate_events_accepted_total ([\d.e+]+)$", metrics).group(1)))


def parquet_ceiling(events: int) -> dict[str, Any]:
    """Writing the same events straight to Parquet in-process: what no server can beat."""
    from ingest_api.storage.rows import EVENTS_SCHEMA

    now = int(time.time() * 1_000_000)
    started = time.perf_counter()
    table = pa.Table.from_pydict(
        {
            "event_id": [f"run-{n}" for n in range(events)],
            "customer_id": [f"cus_{n % 500:05d}" for n in range(events)],
            "event_type": ["ai_tokens"] * events,
            "feature": ["ai_tokens"] * events,
            "quantity": pa.array([str(100 + n % 900) for n in range(events)]).cast(
                EVENTS_SCHEMA.field("quantity").type
            ),
            "unit": ["token"] * events,
            "timestamp": pa.array([now] * events, pa.int64()).cast(
                EVENTS_SCHEMA.field("timestamp").type
            ),
            "received_at": pa.array([now] * events, pa.int64()).cast(
                EVENTS_SCHEMA.field("received_at").type
            ),
            "properties": pa.array(
                [{"model": "gpt-4o-mini", "region": "eu-west"}] * events,
                EVENTS_SCHEMA.field("properties").type,
            ),
            "source": pa.array([None] * events, pa.string()),
        },
        schema=EVENTS_SCHEMA,
    )
    with tempfile.TemporaryDirectory() as tmp:
        pq.write_table(table, Path(tmp) / "ceiling.parquet", compression="zstd")
    seconds = time.perf_counter() - started
    return {"events": events, "seconds": round(seconds, 3), "events_per_s": round(events / seconds)}


def run_server_scenarios(seconds: int, fast_path: bool) -> dict[str, Any]:
    data_dir = Path(tempfile.mkdtemp(prefix="tollgate-bench-"))
    server = TollgateServer(
        data_dir=data_dir,
        env={"TOLLGATE_FAST_PATH": "1" if fast_path else "0", "TOLLGATE_WAL_SEGMENT_MAX_AGE": "10"},
    )
    try:
        server.start()
        key = KeyStore(server.settings.control_db).create("bench", [Scope.INGEST]).token
        results: dict[str, Any] = {}
        acknowledged = 0
        for name, batch, connections in SCENARIOS:
            result = _wrk(server.url, key, batch, connections, seconds, f"{name}-{fast_path}")
            results[name] = result
            acknowledged += (result["requests"] - result["non_2xx"]) * batch
        # Fresh ids in every request: each acknowledged event must have been accepted once.
        results["events_acknowledged"] = acknowledged
        results["events_accepted_by_server"] = _accepted(server.url)
        return results
    finally:
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10, help="duration of each scenario")
    parser.add_argument(
        "--skip-slow-path",
        action="store_true",
        help="skip the comparison run without the ASGI fast path",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install -y wrk")

    fast = run_server_scenarios(args.seconds, fast_path=True)
    report: dict[str, Any] = {"fsync": True, "server_workers": 1, "fast_path": fast}
    if not args.skip_slow_path:
        report["fastapi_routing_only"] = run_server_scenarios(args.seconds, fast_path=False)
    ceiling = parquet_ceiling(fast["batch_100"]["events_per_s"] * 2)
    report["baseline_parquet_in_process"] = ceiling
    report["ratios"] = {
        f"{name}_vs_parquet_ceiling": round(fast[name]["events_per_s"] / ceiling["events_per_s"], 3)
        for name, _, _ in SCENARIOS
    }
    if "fastapi_routing_only" in report:
        report["ratios"].update(
            {
                f"{name}_fast_path_speedup": round(
                    fast[name]["events_per_s"]
                    / report["fastapi_routing_only"][name]["events_per_s"],
                    2,
                )
                for name, _, _ in SCENARIOS
            }
        )
    report["targets"] = {
        "batch_100_events_per_s >= 150000": fast["batch_100"]["events_per_s"] >= 150_000,
        "single_event_requests_per_s >= 4000": fast["single_event"]["requests_per_s"] >= 4_000,
    }
    json.dump(report, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
