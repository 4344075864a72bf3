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
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pyarrow as pa
import pyarrow.parquet as pq

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


def _parquet_rows(events_dir: Path) -> int:
    files = [str(p) for p in events_dir.glob("date=*/*.parquet")]
    if not files:
        return 0
    with duckdb.connect() as db:
        rows = db.execute("select count(*) from read_parquet(?)", [files]).fetchall()
    return int(rows[0][0])


def _seconds_to_publish(server: TollgateServer, timeout: float = 300) -> float:
    """How long until every accepted event is in Parquet (the compactor's backlog)."""
    started = time.perf_counter()
    accepted = _accepted(server.url)
    while _parquet_rows(server.settings.events_dir) < accepted:
        if time.perf_counter() - started > timeout:
            raise RuntimeError("the compactor did not catch up")
        time.sleep(0.2)
    return time.perf_counter() - started


def _accepted(url: str) -> int:
    metrics = httpx.get(f"{url}/metrics").text
    return int(float(_search(r"^tollgate_events_accepted_total ([\d.e+]+)$", metrics).group(1)))


def parquet_in_process(events: int) -> dict[str, Any]:
    """The same events written straight to Parquet in-process, with no server: from Python
    rows (what the server's compactor has to do too) and from a ready Arrow table (pure
    encoding and file writing, the ceiling)."""
    from ingest_api.storage.rows import EVENTS_SCHEMA

    now = int(time.time() * 1_000_000)
    started = time.perf_counter()
    rows = [
        {
            "event_id": f"run-{n}",
            "customer_id": f"cus_{n % 500:05d}",
            "event_type": "ai_tokens",
            "feature": "ai_tokens",
            "quantity": Decimal(100 + n % 900),
            "unit": "token",
            "timestamp": now,
            "received_at": now,
            "properties": {"model": "gpt-4o-mini", "region": "eu-west"},
            "source": None,
        }
        for n in range(events)
    ]
    table = pa.Table.from_pylist(rows, schema=EVENTS_SCHEMA)
    with tempfile.TemporaryDirectory() as tmp:
        built = time.perf_counter()
        pq.write_table(table, Path(tmp) / "rows.parquet", compression="zstd")
        written = time.perf_counter()
    return {
        "events": events,
        "from_python_rows_events_per_s": round(events / (written - started)),
        "from_arrow_table_events_per_s": round(events / (written - built)),
    }


def run_server_scenarios(seconds: int, fast_path: bool) -> dict[str, Any]:
    data_dir = Path(tempfile.mkdtemp(prefix="tollgate-bench-"))
    server = TollgateServer(
        data_dir=data_dir,
        env={"TOLLGATE_FAST_PATH": "1" if fast_path else "0", "TOLLGATE_WAL_SEGMENT_MAX_AGE": "2"},
    )
    try:
        server.start()
        key = server.create_keys().ingest
        results: dict[str, Any] = {}
        acknowledged = 0
        for name, batch, connections in SCENARIOS:
            result = _wrk(server.url, key, batch, connections, seconds, f"{name}-{fast_path}")
            events = (result["requests"] - result["non_2xx"]) * batch
            # The WAL absorbs a burst and the (lower-priority) compactor catches up after it;
            # "sustained" counts that catch-up time too.
            drain = _seconds_to_publish(server)
            result["seconds_until_all_in_parquet_after_load"] = round(drain, 2)
            result["sustained_events_per_s"] = round(events / (seconds + drain))
            results[name] = result
            acknowledged += events
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
    baseline = parquet_in_process(500_000)
    report["baseline_parquet_in_process"] = baseline
    report["ratios"] = {}
    for name, _, _ in SCENARIOS:
        rate = fast[name]["events_per_s"]
        report["ratios"][f"{name}_vs_parquet_from_python_rows"] = round(
            rate / baseline["from_python_rows_events_per_s"], 3
        )
        report["ratios"][f"{name}_vs_parquet_from_arrow_table"] = round(
            rate / baseline["from_arrow_table_events_per_s"], 3
        )
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
