"""Limit checks and limit enforcement on the real server, each beside the baseline it costs.

1. Limit-check latency: `tollgate serve` on 127.0.0.1 with 1,000 customers (free, starter and
   professional plans in turn, half with hard limits of their own), and `POST /v1/limits/check`
   at a fixed open-loop rate (1,000 requests/s) from a separate process over keep-alive
   connections. Each request's latency counts from the moment it was due, not sent, so a stall
   is charged to every request it delays (no coordinated omission). Baselines, at the same rate
   from the same generator: `GET /healthz` (the cheapest route), and the limit-check route
   answering 400 to an undecodable body (same fast path and key check, no engine): the ratios
   isolate what the check adds. Before them, every customer's first check after start-up is
   timed one by one (the server reads a customer's terms from the control plane then).
2. Enforcement cost: events/s of `POST /v1/events` (wrk and benchmarks/ingest_load.lua, as
   benchmarks/ingest.py: ai_tokens events for 500 customers) with limit enforcement on (the
   default) and off (`TOLLGATE_ENFORCE_LIMITS=false`), single events and 100-event batches,
   several rounds alternating on and off, a fresh server and data directory for each. Every
   customer that receives events has hard limits far above what a run sends, so every event
   is checked and none refused; each customer's first event is sent before the measurement.
   Cost = 1 - on/off.

Prints JSON. Run: ``./dev python benchmarks/limits.py`` (``--quick``: a short smoke run).
Needs wrk (``apt-get install -y wrk``). Module-level imports are the standard library only:
the load generator's process imports this module too.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import select
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.support.server import TollgateServer

TARGET_P99_MS = 2.0
TARGET_MAX_COST = 0.15
CUSTOMERS = 1_000
# benchmarks/ingest_load.lua sends events for cus_00000 ... cus_00499.
INGEST_CUSTOMERS = 500
LIMIT_PLANS = ("free", "starter", "professional")  # every one limits every feature it has
FEATURES = ("api_calls", "ai_tokens", "storage")
HIGH_LIMIT = 10**15  # hard, and never reached: every event is checked, none refused
INGEST_SCENARIOS = (  # (name, events per request, connections), as benchmarks/ingest.py
    ("single_event", 1, 64),
    ("batch_100", 100, 32),
)


@dataclass(frozen=True)
class Config:
    rate: int
    seconds: float
    warmup_seconds: float
    connections: int
    ingest_seconds: int
    ingest_warmup_seconds: int
    rounds: int


FULL = Config(
    rate=1_000,
    seconds=20,
    warmup_seconds=5,
    connections=16,
    ingest_seconds=10,
    ingest_warmup_seconds=2,
    rounds=3,
)
QUICK = Config(
    rate=1_000,
    seconds=3,
    warmup_seconds=1,
    connections=16,
    ingest_seconds=2,
    ingest_warmup_seconds=1,
    rounds=1,
)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def customer_id(n: int) -> str:
    return f"cus_{n:05d}"  # the lua script's format


# -- the control plane: built once, copied into each server's fresh data directory ------------


def build_control_template(data_dir: Path) -> dict[str, Any]:
    """1,000 customers through ControlService (the product path), each on a plan with limits;
    the ones that receive events also get hard limits of their own, far above any run."""
    from tollgate.billing.catalogue.model import Enforcement
    from tollgate.control.database import open_control_database
    from tollgate.control.service import ControlService
    from tollgate.settings import TollgateSettings

    settings = TollgateSettings(data_dir=data_dir)
    started = datetime.now(UTC) - timedelta(days=3)
    engine = open_control_database(settings.control_database_url)
    began = time.perf_counter()
    try:
        service = ControlService(
            engine, settings.catalogue(), actor="benchmark", clock=lambda: started
        )
        for n in range(CUSTOMERS):
            service.create_customer(customer_id(n), name=f"Customer {n}")
            service.subscribe(customer_id(n), LIMIT_PLANS[n % len(LIMIT_PLANS)], at=started)
        for n in range(INGEST_CUSTOMERS):
            for feature in ("api_calls", "ai_tokens"):
                service.set_limit(customer_id(n), feature, HIGH_LIMIT, Enforcement.HARD)
    finally:
        engine.dispose()
    return {
        "customers": CUSTOMERS,
        "plans": list(LIMIT_PLANS),
        "customers_with_own_hard_limits": INGEST_CUSTOMERS,
        "seconds": round(time.perf_counter() - began, 1),
    }


@contextmanager
def server_on_copy(template: Path, env: dict[str, str]) -> Iterator[tuple[TollgateServer, str]]:
    """A fresh `tollgate serve` on a copy of the template's control database; yields the
    server and an ingest key."""
    from tests.support.server import TollgateServer

    data_dir = Path(tempfile.mkdtemp(prefix="tollgate-limits-bench-"))
    shutil.copy(template / "control.sqlite", data_dir / "control.sqlite")
    server = TollgateServer(data_dir=data_dir, env={"TOLLGATE_WAL_SEGMENT_MAX_AGE": "2", **env})
    try:
        server.start()
        yield server, server.create_keys().ingest
    finally:
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


# -- the open-loop load generator (runs in its own process) ------------------------------------


def open_loop(
    port: int, requests: list[bytes], rate: int, seconds: float, connections: int
) -> dict[str, Any]:
    """Sends ``requests`` (cycled) at ``rate`` per second for ``seconds``, open loop.

    Request i is due at start + i/rate and goes out on any idle keep-alive connection; if
    every connection is waiting for an answer, it waits for one, and that wait counts in its
    latency, which is measured from the due time. One thread and ``select`` (microsecond
    timeouts: event loops round timers to milliseconds, which would blur sub-millisecond
    latencies); the client's own CPU time is reported beside the figures.
    """
    socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(connections)]
    for sock in socks:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    index_of = {sock.fileno(): n for n, sock in enumerate(socks)}
    total = int(rate * seconds)
    idle = deque(range(connections))
    busy: dict[int, tuple[float, float, bytearray]] = {}  # connection -> (due, sent, buffer)
    waiting: deque[int] = deque()
    latencies: list[float] = []  # from the due time
    service: list[float] = []  # from the actual send
    statuses: dict[int, int] = {}
    late = 0
    clock = time.perf_counter
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    start = clock() + 0.05
    next_due = 0
    while len(latencies) < total:
        now = clock()
        while next_due < total and start + next_due / rate <= now:
            waiting.append(next_due)
            next_due += 1
        while waiting and idle:
            i = waiting.popleft()
            n = idle.popleft()
            due, sent = start + i / rate, clock()
            if sent - due > 0.001:
                late += 1
            socks[n].sendall(requests[i % len(requests)])
            busy[n] = (due, sent, bytearray())
        timeout = None if next_due >= total else max(0.0, start + next_due / rate - clock())
        if not busy:
            time.sleep(timeout or 0)
            continue
        readable, _, _ = select.select([socks[n] for n in busy], [], [], timeout)
        for sock in readable:
            n = index_of[sock.fileno()]
            due, sent, buffer = busy[n]
            chunk = sock.recv(65536)
            if not chunk:
                raise RuntimeError("the server closed a connection")
            buffer += chunk
            status = _complete_response(buffer)
            if status is None:
                continue
            done = clock()
            latencies.append(done - due)
            service.append(done - sent)
            statuses[status] = statuses.get(status, 0) + 1
            del busy[n]
            idle.append(n)
    elapsed = clock() - start
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    for sock in socks:
        sock.close()
    client_cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (
        cpu_after.ru_stime - cpu_before.ru_stime
    )
    return {
        "requests": len(latencies),
        "target_rate_per_s": rate,
        "achieved_rate_per_s": round(len(latencies) / elapsed, 1),
        "connections": connections,
        "non_200": sum(count for code, count in statuses.items() if code != 200),
        "statuses": {str(code): count for code, count in sorted(statuses.items())},
        "sent_over_1ms_late": late,
        "client_cpu_share_of_one_core": round(client_cpu / elapsed, 3),
        "latency_ms": _percentiles(latencies),
        "service_time_ms": _percentiles(service),
    }


def _complete_response(buffer: bytearray) -> int | None:
    """The status of the one response in ``buffer`` once all of it has arrived, else None."""
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        return None
    lines = bytes(buffer[:end]).split(b"\r\n")
    body = len(buffer) - end - 4
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length" and body < int(value):
            return None
        if name == b"transfer-encoding" and not buffer.endswith(b"0\r\n\r\n"):
            return None
    return int(lines[0].split(b" ", 2)[1])


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    if not ordered:
        return {}

    def at(fraction: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000, 3)

    return {
        "p50": at(0.50),
        "p90": at(0.90),
        "p99": at(0.99),
        "p999": at(0.999),
        "max": round(ordered[-1] * 1000, 3),
        "mean": round(statistics.fmean(ordered) * 1000, 3),
    }


def _http_request(method: str, path: str, port: int, key: str, body: bytes = b"") -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {key}\r\n"
    if body:
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    return head.encode() + b"\r\n" + body


def limit_check_requests(port: int, key: str) -> list[bytes]:
    """One check per customer and feature, quantities 1 to 1,000, in a shuffled order."""
    import random

    chooser = random.Random(7)
    bodies = [
        json.dumps(
            {
                "customer_id": customer_id(n),
                "feature": feature,
                "quantity": str(chooser.randint(1, 1_000)),
            }
        ).encode()
        for n in range(CUSTOMERS)
        for feature in FEATURES
    ]
    chooser.shuffle(bodies)
    return [_http_request("POST", "/v1/limits/check", port, key, body) for body in bodies]


def run_open_loop(
    pool: ProcessPoolExecutor, port: int, requests: list[bytes], seconds: float, cfg: Config
) -> dict[str, Any]:
    result: dict[str, Any] = pool.submit(
        open_loop, port, requests, cfg.rate, seconds, cfg.connections
    ).result()
    return result


def first_checks(url: str, key: str) -> dict[str, Any]:
    """Each customer's first limit check after start-up, one at a time: the server reads the
    customer's terms from the control plane then (and keeps them until they can change)."""
    import httpx

    took: list[float] = []
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}) as client:
        for n in range(CUSTOMERS):
            began = time.perf_counter()
            response = client.post(
                "/v1/limits/check",
                json={"customer_id": customer_id(n), "feature": "api_calls", "quantity": "1"},
            )
            took.append(time.perf_counter() - began)
            response.raise_for_status()
    return {
        "customers": CUSTOMERS,
        "seconds": round(sum(took), 2),
        "latency_ms": _percentiles(took),
    }


# -- 1. limit-check latency ----------------------------------------------------------------------


def limit_check_latency(template: Path, cfg: Config) -> dict[str, Any]:
    from benchmarks.ingest import _wrk

    spawn = multiprocessing.get_context("spawn")
    with (
        ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool,
        server_on_copy(template, {}) as (server, key),
    ):
        results: dict[str, Any] = {
            "first_check_per_customer_after_start": first_checks(server.url, key)
        }
        # Live usage to check against: 100-event batches for the first 500 customers.
        _wrk(server.url, key, 100, 8, 2, "limits-usage")
        scenarios = {
            # the cheapest route (FastAPI routing, no auth, no body)
            "baseline_healthz": [_http_request("GET", "/healthz", server.port, key)],
            # the same route and fast path, authenticated, with a body the check refuses to
            # decode (400): everything but the decoding, the engine and the answer
            "baseline_limit_check_400": [
                _http_request("POST", "/v1/limits/check", server.port, key, b'{"customer_id":1}')
            ],
            "limit_check": limit_check_requests(server.port, key),
        }
        for name, requests in scenarios.items():
            log(f"open loop: {name}, warm-up {cfg.warmup_seconds} s")
            run_open_loop(pool, server.port, requests, cfg.warmup_seconds, cfg)
            log(f"open loop: {name}, {cfg.rate}/s for {cfg.seconds} s")
            results[name] = run_open_loop(pool, server.port, requests, cfg.seconds, cfg)
    check = results["limit_check"]["latency_ms"]
    results["ratios"] = {
        f"limit_check_{p}_vs_{baseline}": round(check[p] / results[baseline]["latency_ms"][p], 2)
        for baseline in ("baseline_healthz", "baseline_limit_check_400")
        for p in ("p50", "p99")
    }
    return results


# -- 2. ingest with enforcement on and off --------------------------------------------------------


def first_events(url: str, key: str) -> float:
    """One event for each customer the load sends events for, in one batch, before the
    measurement: with enforcement on, the server reads each one's terms on first sight."""
    import httpx

    events = [
        {
            "event_id": f"first-{n}",
            "customer_id": customer_id(n),
            "event_type": "ai_tokens",
            "feature": "ai_tokens",
            "quantity": "1",
            "unit": "token",
        }
        for n in range(INGEST_CUSTOMERS)
    ]
    began = time.perf_counter()
    httpx.post(
        f"{url}/v1/events", json=events, headers={"Authorization": f"Bearer {key}"}, timeout=120
    ).raise_for_status()
    return time.perf_counter() - began


def ingest_rounds(template: Path, cfg: Config) -> dict[str, Any]:
    from benchmarks.ingest import _wrk

    runs: list[dict[str, Any]] = []
    for round_no in range(cfg.rounds):
        # Alternate which goes first, so a drift in the machine's speed hits both alike.
        modes = (True, False) if round_no % 2 == 0 else (False, True)
        for enforce in modes:
            env = {"TOLLGATE_ENFORCE_LIMITS": "true" if enforce else "false"}
            for name, batch, connections in INGEST_SCENARIOS:
                with server_on_copy(template, env) as (server, key):
                    run = f"r{round_no}-{enforce}-{name}"
                    first = first_events(server.url, key)
                    _wrk(server.url, key, batch, connections, cfg.ingest_warmup_seconds, f"{run}-w")
                    result = _wrk(server.url, key, batch, connections, cfg.ingest_seconds, run)
                log(
                    f"ingest round {round_no + 1}, enforcement {'on' if enforce else 'off'}, "
                    f"{name}: {result['events_per_s']:,} events/s"
                )
                runs.append(
                    {
                        "round": round_no + 1,
                        "enforce_limits": enforce,
                        "scenario": name,
                        "first_batch_one_event_per_customer_s": round(first, 3),
                    }
                    | result
                )
    summary: dict[str, Any] = {}
    for name, _, _ in INGEST_SCENARIOS:
        on = [r["events_per_s"] for r in runs if r["scenario"] == name and r["enforce_limits"]]
        off = [r["events_per_s"] for r in runs if r["scenario"] == name and not r["enforce_limits"]]
        summary[name] = {
            "events_per_s_enforcement_on": on,
            "events_per_s_enforcement_off": off,
            "median_on": round(statistics.median(on)),
            "median_off": round(statistics.median(off)),
            "ratio_on_off_per_round": [round(a / b, 3) for a, b in zip(on, off, strict=True)],
            "cost_of_medians": round(1 - statistics.median(on) / statistics.median(off), 3),
        }
    return {"runs": runs, "summary": summary}


# -- main -----------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a short smoke run (~1 min)")
    parser.add_argument("--skip-ingest", action="store_true", help="limit-check latency only")
    parser.add_argument("--skip-latency", action="store_true", help="ingest on/off only")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install -y wrk")
    cfg = QUICK if args.quick else FULL

    template = Path(tempfile.mkdtemp(prefix="tollgate-limits-template-"))
    try:
        log(f"control plane: {CUSTOMERS} customers")
        control = build_control_template(template)
        report: dict[str, Any] = {
            "machine": {"cores": os.cpu_count(), "load_average_at_start": os.getloadavg()[0]},
            "code": code_state(),
            "config": {
                "quick": args.quick,
                **cfg.__dict__,
                "control_plane": control,
                "load_generator": (
                    "limit checks: open-loop generator in Python (one thread, select, raw "
                    "HTTP/1.1 on keep-alive connections) in a separate process; ingest: wrk "
                    "(one thread) with benchmarks/ingest_load.lua"
                ),
                "server": "tollgate serve, one process, fsync on, ASGI fast path on",
            },
        }
        if not args.skip_latency:
            report["limit_check_latency"] = limit_check_latency(template, cfg)
        if not args.skip_ingest:
            report["ingest_enforcement"] = ingest_rounds(template, cfg)
        report["load_average_at_end"] = os.getloadavg()[0]
        report["targets"] = _targets(report)
    finally:
        shutil.rmtree(template, ignore_errors=True)
    json.dump(report, sys.stdout, indent=2)
    print()


def code_state() -> dict[str, Any]:
    """Which code was measured: the commit, and the server's files changed since it."""
    root = Path(__file__).resolve().parents[1]

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=root, capture_output=True, text=True, check=False
        ).stdout.rstrip("\n")

    changed = git("status", "--porcelain", "--", "ingest_api", "tollgate")
    return {
        "commit": git("rev-parse", "--short", "HEAD"),
        "uncommitted_server_files": [line[3:] for line in changed.splitlines()],
    }


def _targets(report: dict[str, Any]) -> dict[str, Any]:
    targets: dict[str, Any] = {}
    latency = report.get("limit_check_latency")
    if latency is not None:
        p99 = latency["limit_check"]["latency_ms"]["p99"]
        targets[f"limit_check_p99_ms < {TARGET_P99_MS}"] = {
            "value": p99,
            "met": p99 < TARGET_P99_MS,
        }
    ingest = report.get("ingest_enforcement")
    if ingest is not None:
        for name, summary in ingest["summary"].items():
            cost = summary["cost_of_medians"]
            targets[f"{name}_enforcement_cost <= {TARGET_MAX_COST}"] = {
                "value": cost,
                "met": cost <= TARGET_MAX_COST,
            }
    return targets


if __name__ == "__main__":
    main()
