"""TollgateClient against a real ingest server, with a fault-injecting proxy in between."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.parquet import stored_rows
from tests.support.server import ServerKeys, TollgateServer, free_port, wait_until
from tests.tollgate.test_enforce_usage_limits import post_api_calls, subscribe, wait_for_plan
from tollgate.client import (
    ClientClosedError,
    Failed,
    LimitCheck,
    LimitCheckError,
    QueueFullError,
    Rejected,
    TollgateClient,
    parse_retry_after,
    read_limit_check,
)

REPO = Path(__file__).resolve().parents[2]

# --- a loopback proxy that can fail on purpose ----------------------------------------------


@dataclass
class Seen:
    """One POST the proxy received."""

    at: float  # time.monotonic()
    event_ids: list[str]


@dataclass
class FaultyProxy:
    """Forwards POSTs to the real server, except that each queued fault replaces one answer.

    Faults: ``"503"``/``"500"``: answer that status without forwarding; ``"429:<retry-after>"``;
    ``"drop"``: forward (the server stores the events) but close the connection instead of
    relaying the answer, as when a response is lost on the network.
    """

    upstream: str
    faults: deque[str] = field(default_factory=deque)
    seen: list[Seen] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def next_fault(self, body: bytes) -> str | None:
        ids = [event["event_id"] for event in json.loads(body)]
        with self._lock:
            self.seen.append(Seen(time.monotonic(), ids))
            return self.faults.popleft() if self.faults else None

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        body = handler.rfile.read(int(handler.headers.get("Content-Length", "0")))
        fault = self.next_fault(body)
        if fault is not None and fault != "drop":
            status, _, retry_after = fault.partition(":")
            headers = {"Retry-After": retry_after} if retry_after else {}
            error = {"error": {"code": "injected", "message": "injected fault", "hint": ""}}
            self.reply(handler, int(status), json.dumps(error).encode(), headers)
            return
        upstream = httpx.post(
            self.upstream + handler.path,
            content=body,
            headers={
                "Authorization": handler.headers["Authorization"],
                "Content-Type": handler.headers["Content-Type"],
            },
            timeout=30,
        )
        if fault == "drop":
            # No status line at all: the client sees the connection close, a network error.
            handler.close_connection = True
            return
        self.reply(handler, upstream.status_code, upstream.content, {})

    @staticmethod
    def reply(
        handler: BaseHTTPRequestHandler, status: int, body: bytes, headers: dict[str, str]
    ) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(body)

    def requests_for(self, event_id: str) -> int:
        return sum(event_id in seen.event_ids for seen in self.seen)


@pytest.fixture
def proxy(server: TollgateServer) -> Iterator[tuple[FaultyProxy, str]]:
    """The proxy and its URL, forwarding to the ``server`` fixture."""
    faulty = FaultyProxy(server.url)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, like the real server

        def do_POST(self) -> None:
            faulty.handle(self)

        def log_message(self, format: str, *args: object) -> None:
            pass  # keep test output readable

    http_server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    http_server.daemon_threads = True
    thread = threading.Thread(target=http_server.serve_forever, daemon=True)
    thread.start()
    yield faulty, f"http://127.0.0.1:{http_server.server_address[1]}"
    http_server.shutdown()
    http_server.server_close()


# --- helpers --------------------------------------------------------------------------------


def stored_after_stop(server: TollgateServer) -> list[dict[str, object]]:
    """Every stored row; stopping the server first seals and publishes everything."""
    server.stop()
    return stored_rows(server.settings.events_dir)


def fast_client(url: str, key: str, **overrides: Any) -> TollgateClient:
    """A client whose backoff is short enough for tests (overridable)."""
    options: dict[str, Any] = {"backoff_initial": 0.01, "backoff_max": 0.05, **overrides}
    return TollgateClient(url, key, **options)


def track_n(client: TollgateClient, n: int, customer: str = "cus_1") -> list[str]:
    return [client.track(customer, "api_call", "search", 1) for _ in range(n)]


def assert_stored_once(rows: list[dict[str, object]], event_ids: list[str]) -> None:
    counts = Counter(str(row["event_id"]) for row in rows)
    assert set(counts) == set(event_ids)
    assert all(count == 1 for count in counts.values()), counts.most_common(3)


# --- delivery ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_events_tracked_from_many_threads_are_stored_exactly_once_with_exact_quantities(
    server: TollgateServer, keys: ServerKeys
) -> None:
    threads, per_thread = 8, 250
    expected: dict[str, Decimal] = {}
    lock = threading.Lock()

    def produce(client: TollgateClient, worker: int) -> None:
        for i in range(per_thread):
            # Values a float cannot hold exactly; the sum below would drift with floats.
            quantity = Decimal(f"0.{worker}{i:03d}00001")  # 9 fractional digits
            event_id = client.track(f"cus_{worker}", "ai_tokens", "ai_tokens", quantity)
            with lock:
                expected[event_id] = quantity

    with TollgateClient(server.url, keys.ingest, batch_size=50) as client:
        workers = [threading.Thread(target=produce, args=(client, w)) for w in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        assert client.flush(timeout=60)
        stats = client.stats
    assert (stats.accepted, stats.duplicates, stats.rejected, stats.failed) == (2000, 0, 0, 0)

    rows = stored_after_stop(server)
    assert_stored_once(rows, list(expected))
    stored = {str(row["event_id"]): row["quantity"] for row in rows}
    assert stored == expected
    assert all(type(quantity) is Decimal for quantity in stored.values())


@pytest.mark.slow
def test_stored_events_carry_every_field_as_tracked(
    server: TollgateServer, keys: ServerKeys
) -> None:
    moment = datetime.now(UTC) - timedelta(hours=1)
    with TollgateClient(server.url, keys.ingest, source="billing-tests") as client:
        event_id = client.track(
            "cus_fields",
            "storage",
            "storage",
            "1048576",
            unit="byte",
            properties={"operation": "upload", "bucket": "b1"},
            timestamp=moment,
            event_id="my-own-id-1",
        )
    assert event_id == "my-own-id-1"

    (row,) = stored_after_stop(server)
    assert row["customer_id"] == "cus_fields"
    assert (row["event_type"], row["feature"], row["unit"]) == ("storage", "storage", "byte")
    assert row["quantity"] == Decimal(1048576)
    assert row["properties"] == {"operation": "upload", "bucket": "b1"}
    assert row["timestamp"] == moment
    assert row["source"] == "billing-tests"


def test_invalid_arguments_are_refused_before_anything_is_queued() -> None:
    # Floats above all: 0.1 is not 0.1 in binary, and invoices must add up exactly.
    with TollgateClient(f"http://127.0.0.1:{free_port()}", "tg_unused") as client:
        with pytest.raises(TypeError, match="pass Decimal or str"):
            client.track("cus_1", "api_call", "search", 0.1)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="pass Decimal or str"):
            client.track("cus_1", "api_call", "search", True)
        with pytest.raises(ValueError, match="not a decimal number"):
            client.track("cus_1", "api_call", "search", "1,5")
        with pytest.raises(ValueError, match="timezone-aware"):
            client.track("cus_1", "api_call", "search", 1, timestamp=datetime(2025, 1, 1))
        with pytest.raises(ValueError, match="not valid Unicode"):
            client.track("cus_\ud800", "api_call", "search", 1)
        assert client.queued == 0
        assert client.stats.sent == 0


@pytest.mark.slow
def test_close_sends_what_is_queued(server: TollgateServer, keys: ServerKeys) -> None:
    # Neither the batch size nor the interval would send these before close().
    client = TollgateClient(server.url, keys.ingest, batch_size=1000, flush_interval=3600)
    event_ids = track_n(client, 25)
    assert client.stats.sent == 0

    assert client.close()

    assert client.stats.accepted == 25
    with pytest.raises(ClientClosedError):
        client.track("cus_1", "api_call", "search", 1)
    assert_stored_once(stored_after_stop(server), event_ids)


@pytest.mark.slow
def test_events_are_sent_at_interpreter_exit_without_close(
    server: TollgateServer, keys: ServerKeys
) -> None:
    script = textwrap.dedent(
        """
        import sys
        from tollgate.client import TollgateClient

        client = TollgateClient(sys.argv[1], sys.argv[2], batch_size=1000, flush_interval=3600)
        for _ in range(7):
            print(client.track("cus_exit", "api_call", "search", 1))
        # No close(): the atexit hook must send the 7 queued events.
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script, server.url, keys.ingest],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    event_ids = done.stdout.split()
    assert len(event_ids) == 7
    assert_stored_once(stored_after_stop(server), event_ids)


@pytest.mark.slow
@pytest.mark.parametrize(
    "max_body_bytes",
    [
        pytest.param(1024 * 1024, id="batches-sized-by-the-client"),
        # As if the server's limit were lower than the client thinks: 413s, then halves.
        pytest.param(100 * 1024 * 1024, id="batches-split-after-413"),
    ],
)
def test_batches_stay_under_the_body_size_limit(
    server: TollgateServer, keys: ServerKeys, max_body_bytes: int
) -> None:
    # ~6 KB per event, so 400 events (one batch by count) are far over the 1 MiB limit.
    big = {f"key_{i:02d}": "x" * 256 for i in range(20)}
    client = TollgateClient(
        server.url,
        keys.ingest,
        batch_size=1000,
        max_body_bytes=max_body_bytes,
        flush_interval=3600,
    )
    event_ids = [client.track("cus_big", "api_call", "x", 1, properties=big) for _ in range(400)]
    assert client.close(timeout=60)

    assert (client.stats.accepted, client.stats.rejected, client.stats.failed) == (400, 0, 0)
    assert_stored_once(stored_after_stop(server), event_ids)


# --- retries --------------------------------------------------------------------------------


@pytest.mark.slow
def test_5xx_answers_are_retried_with_the_same_event_ids(
    server: TollgateServer, keys: ServerKeys, proxy: tuple[FaultyProxy, str]
) -> None:
    faulty, url = proxy
    faulty.faults.extend(["503", "500", "503"])
    with fast_client(url, keys.ingest, batch_size=10) as client:
        event_ids = track_n(client, 10)
        assert client.flush(timeout=30)
        stats = client.stats

    assert (stats.retries, stats.accepted, stats.failed) == (3, 10, 0)
    # Every attempt carried the very same events: ids are fixed at track time.
    assert [seen.event_ids for seen in faulty.seen] == [event_ids] * 4
    assert_stored_once(stored_after_stop(server), event_ids)


@pytest.mark.slow
def test_a_lost_answer_is_retried_and_the_events_are_counted_once(
    server: TollgateServer, keys: ServerKeys, proxy: tuple[FaultyProxy, str]
) -> None:
    faulty, url = proxy
    faulty.faults.append("drop")  # the server stores the batch; its answer never arrives
    with fast_client(url, keys.ingest, batch_size=10) as client:
        event_ids = track_n(client, 10)
        assert client.flush(timeout=30)
        stats = client.stats

    assert (stats.retries, stats.accepted, stats.duplicates) == (1, 0, 10)
    assert all(faulty.requests_for(event_id) == 2 for event_id in event_ids)
    assert_stored_once(stored_after_stop(server), event_ids)


@pytest.mark.slow
def test_429_waits_for_retry_after(
    server: TollgateServer, keys: ServerKeys, proxy: tuple[FaultyProxy, str]
) -> None:
    faulty, url = proxy
    faulty.faults.append("429:1")
    # Without Retry-After this client would retry after about 10 ms.
    with fast_client(url, keys.ingest, batch_size=5) as client:
        event_ids = track_n(client, 5)
        assert client.flush(timeout=30)
        assert (client.stats.retries, client.stats.accepted) == (1, 5)

    first, second = faulty.seen
    assert second.at - first.at >= 0.95
    assert_stored_once(stored_after_stop(server), event_ids)


@pytest.mark.slow
def test_retries_give_up_after_max_retries_and_report_failed(
    keys: ServerKeys, proxy: tuple[FaultyProxy, str]
) -> None:
    faulty, url = proxy
    faulty.faults.extend(["503"] * 10)
    failed: list[Failed] = []
    with fast_client(url, keys.ingest, max_retries=2, on_failed=failed.extend) as client:
        event_ids = track_n(client, 3)
        assert client.flush(timeout=30)
        stats = client.stats

    assert (stats.retries, stats.failed, stats.accepted) == (2, 3, 0)
    assert len(faulty.seen) == 3
    assert [f.event_id for f in failed] == event_ids
    assert "no answer after 3 attempts" in failed[0].reason


# --- rejections -----------------------------------------------------------------------------


@pytest.mark.slow
def test_invalid_events_reach_on_rejected_and_the_valid_ones_are_stored(
    server: TollgateServer, keys: ServerKeys
) -> None:
    rejected: list[Rejected] = []
    with TollgateClient(server.url, keys.ingest, on_rejected=rejected.extend) as client:
        good = client.track("cus_1", "api_call", "search", "0.002")
        negative = client.track("cus_1", "api_call", "search", "-1")
        too_precise = client.track("cus_1", "api_call", "search", "0.0000000001")
        assert client.flush(timeout=30)
        stats = client.stats

    assert (stats.accepted, stats.rejected, stats.retries) == (1, 2, 0)
    assert [(r.event_id, r.field, r.status) for r in rejected] == [
        (negative, "quantity", 207),
        (too_precise, "quantity", 207),
    ]
    assert "negative" in rejected[0].reason
    assert rejected[0].event["quantity"] == "-1"
    assert [row["event_id"] for row in stored_after_stop(server)] == [good]


@pytest.mark.slow
def test_a_refused_request_is_rejected_whole_and_not_retried(
    server: TollgateServer, proxy: tuple[FaultyProxy, str]
) -> None:
    faulty, url = proxy
    rejected: list[Rejected] = []
    with fast_client(url, "tg_not_a_key", batch_size=4, on_rejected=rejected.extend) as client:
        event_ids = track_n(client, 4)
        assert client.flush(timeout=30)
        stats = client.stats

    assert len(faulty.seen) == 1
    assert (stats.rejected, stats.retries, stats.accepted) == (4, 0, 0)
    assert [r.event_id for r in rejected] == event_ids
    assert {(r.status, r.field) for r in rejected} == {(401, None)}
    assert "invalid_api_key" in rejected[0].reason
    assert stored_after_stop(server) == []


# --- bounded memory -------------------------------------------------------------------------


def test_track_raises_queue_full_when_the_server_is_unreachable() -> None:
    failed: list[Failed] = []
    client = TollgateClient(
        f"http://127.0.0.1:{free_port()}",  # nothing listens there
        "tg_unused",
        batch_size=2,
        flush_interval=0.01,
        max_queue=4,
        block_timeout=0.05,
        backoff_initial=60,  # the sender parks in backoff with one batch in hand
        backoff_max=60,
        on_failed=failed.extend,
    )
    # The sender takes one batch and parks in backoff with it ...
    track_n(client, 2)
    wait_until(lambda: client.stats.sent == 2, what="the first batch to be sent")
    # ... so exactly max_queue more events fit in memory, and not one more.
    track_n(client, 4)
    assert client.queued == 4
    started = time.monotonic()
    with pytest.raises(QueueFullError, match="4 events are waiting"):
        client.track("cus_1", "api_call", "search", 1)
    assert time.monotonic() - started >= 0.05

    # close() gives up after its timeout and reports every tracked event as failed.
    assert not client.close(timeout=0.5)
    assert client.stats.failed == 6 == len(failed)


# --- limit checks ---------------------------------------------------------------------------


async def acheck(client: TollgateClient, *args: Any) -> LimitCheck:
    """``acheck_limit`` on a loop of its own, closing its connections before the loop ends."""
    try:
        return await client.acheck_limit(*args)
    finally:
        await client.aclose_checks()


@pytest.mark.slow
def test_check_limit_answers_with_live_usage(
    shared_server: TollgateServer, shared_keys: ServerKeys
) -> None:
    with TollgateClient(shared_server.url, shared_keys.ingest) as client:
        subscribe(shared_server, "cus_check", "free")  # api_calls: hard limit 1,000
        wait_for_plan(client, "cus_check")
        post_api_calls(shared_server, shared_keys.ingest, "cus_check", 250)

        within = client.check_limit("cus_check", "api_calls", 10)
        past = client.check_limit("cus_check", "api_calls", Decimal("750.5"))
        from_async = asyncio.run(acheck(client, "cus_check", "api_calls", "10"))
    with TollgateClient(shared_server.url, shared_keys.read) as reader:
        read = reader.check_limit("cus_check", "api_calls", 10)

    assert isinstance(within, LimitCheck)
    assert within.resets_at is not None
    assert within.resets_at.utcoffset() is not None
    assert within.resets_at > datetime.now(UTC)
    assert within == LimitCheck(
        customer_id="cus_check",
        feature="api_calls",
        quantity=Decimal(10),
        allowed=True,
        used=Decimal(250),
        limit=Decimal(1000),
        remaining=Decimal(750),
        enforcement="hard",
        resets_at=within.resets_at,
        reason="within the limit",
    )
    assert (past.allowed, past.quantity, past.remaining) == (False, Decimal("750.5"), Decimal(750))
    assert "hard limit" in past.reason
    assert from_async == within == read


@pytest.mark.slow
@pytest.mark.parametrize(
    ("key", "feature", "quantity", "status", "code"),
    [
        ("tg_not_a_key", "api_calls", 1, 401, "invalid_api_key"),
        (None, "teleportation", 1, 404, "unknown_feature"),
        (None, "api_calls", -1, 400, "invalid_request"),
    ],
)
def test_check_limit_raises_what_tollgate_refused(
    shared_server: TollgateServer,
    shared_keys: ServerKeys,
    key: str | None,
    feature: str,
    quantity: int,
    status: int,
    code: str,
) -> None:
    with TollgateClient(shared_server.url, key or shared_keys.ingest) as client:
        with pytest.raises(LimitCheckError) as sync_error:
            client.check_limit("cus_1", feature, quantity)
        with pytest.raises(LimitCheckError) as async_error:
            asyncio.run(acheck(client, "cus_1", feature, quantity))

    for error in (sync_error.value, async_error.value):
        assert (error.status, error.code) == (status, code)
        assert not error.unavailable  # a retry would be refused again
        assert error.message
        assert error.hint
        assert f"HTTP {status}, {code}" in str(error)
    if code == "unknown_feature":
        assert "teleportation" in sync_error.value.message


def test_check_limit_without_an_answer_is_unavailable() -> None:
    with TollgateClient(f"http://127.0.0.1:{free_port()}", "tg_unused") as client:
        with pytest.raises(LimitCheckError) as sync_error:
            client.check_limit("cus_1", "api_calls")
        with pytest.raises(LimitCheckError) as async_error:
            asyncio.run(acheck(client, "cus_1", "api_calls"))

    for error in (sync_error.value, async_error.value):
        assert (error.status, error.code, error.unavailable) == (None, "unreachable", True)
        assert "ConnectError" in error.message


def test_check_limit_gives_up_after_its_timeout() -> None:
    # A server that accepts connections (the kernel does, from the backlog) but never answers.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        with TollgateClient(url, "tg_unused", check_timeout=0.2) as client:
            with pytest.raises(LimitCheckError, match="ReadTimeout") as sync_error:
                client.check_limit("cus_1", "api_calls")
            with pytest.raises(LimitCheckError, match="ReadTimeout"):
                asyncio.run(acheck(client, "cus_1", "api_calls"))
            with pytest.raises(LimitCheckError, match="ReadTimeout"):
                client.check_limit("cus_1", "api_calls", timeout=0.05)

    assert sync_error.value.unavailable


def test_check_limit_refuses_bad_arguments_and_a_closed_client() -> None:
    client = TollgateClient(f"http://127.0.0.1:{free_port()}", "tg_unused")
    with pytest.raises(TypeError, match="floats cannot represent"):
        client.check_limit("cus_1", "api_calls", 1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="customer_id must be a str"):
        client.check_limit(42, "api_calls")  # type: ignore[arg-type]
    client.close()
    with pytest.raises(ClientClosedError):
        client.check_limit("cus_1", "api_calls")
    with pytest.raises(ClientClosedError):
        asyncio.run(acheck(client, "cus_1", "api_calls"))


@pytest.mark.parametrize(
    ("status", "body", "code", "unavailable"),
    [
        (
            503,
            {"error": {"code": "not_ready", "message": "starting", "hint": ""}},
            "not_ready",
            True,
        ),
        (429, {"error": {"code": "slow_down", "message": "busy", "hint": ""}}, "slow_down", True),
        (502, "<html>Bad Gateway</html>", "http_error", True),
        (200, "<html>captive portal</html>", "invalid_answer", True),
        (200, {"allowed": "yes"}, "invalid_answer", True),
    ],
)
def test_limit_check_answers_that_are_not_checks(
    status: int, body: object, code: str, unavailable: bool
) -> None:
    request = httpx.Request("POST", "http://tollgate/v1/limits/check")
    if isinstance(body, str):
        response = httpx.Response(status, text=body, request=request)
    else:
        response = httpx.Response(status, json=body, request=request)

    with pytest.raises(LimitCheckError) as error:
        read_limit_check(response)

    assert (error.value.status, error.value.code) == (status, code)
    assert error.value.unavailable is unavailable


# --- pure helpers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [("3", 3.0), (" 0 ", 0.0), ("100000", 300.0), ("soon", None), ("", None), (None, None)],
)
def test_parse_retry_after_seconds(header: str | None, expected: float | None) -> None:
    assert parse_retry_after(header) == expected


def test_parse_retry_after_http_date() -> None:
    in_ten = (datetime.now(UTC) + timedelta(seconds=10)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    seconds = parse_retry_after(in_ten)
    assert seconds is not None
    assert 8 <= seconds <= 10
