"""Acknowledged means durable: SIGKILL the server mid-traffic and count what survived."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.support.parquet import stored_keys
from tests.support.server import TollgateServer, wait_until

CLIENTS = 4


@dataclass
class Ledger:
    """What each client was told, per (customer_id, event_id)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    acknowledged: set[tuple[str, str]] = field(default_factory=set)
    refused: set[tuple[str, str]] = field(default_factory=set)
    requests_answered: int = 0


def _event(client: int, n: int, *, valid: bool = True) -> dict[str, object]:
    return {
        "event_id": f"c{client}-e{n}",
        "customer_id": f"cus_{n % 7}",
        "event_type": "api_call",
        "feature": "api_calls",
        "quantity": "1" if valid else "-1",
    }


def _post_until_failure(url: str, key: str, client: int, ledger: Ledger) -> None:
    headers = {"Authorization": f"Bearer {key}"}
    n = 0
    with httpx.Client(base_url=url, headers=headers, timeout=10) as http:
        while True:
            # Mostly 20-event batches with one invalid event, sometimes single events.
            size = 20 if n % 3 else 1
            batch = [_event(client, n + i, valid=(i != 7)) for i in range(size)]
            n += size
            try:
                response = http.post("/v1/events", json=batch if size > 1 else batch[0])
            except httpx.HTTPError:
                return  # the server died under us: this batch's fate is unknown, as for a client
            body = response.json()
            assert response.status_code in (200, 207), body
            rejected = {r["index"] for r in body["rejected"]}
            with ledger.lock:
                for i, event in enumerate(batch):
                    key_ = (str(event["customer_id"]), str(event["event_id"]))
                    (ledger.refused if i in rejected else ledger.acknowledged).add(key_)
                ledger.requests_answered += 1


def test_acknowledged_events_survive_sigkill_exactly_once(tmp_path: Path) -> None:
    server = TollgateServer(data_dir=tmp_path / "data")
    server.data_dir.mkdir()
    server.start()
    keys = server.create_keys()
    ledger = Ledger()
    threads = [
        threading.Thread(target=_post_until_failure, args=(server.url, keys.ingest, c, ledger))
        for c in range(CLIENTS)
    ]
    for thread in threads:
        thread.start()
    # Kill while every client is mid-stream and at least one segment went to Parquet.
    wait_until(lambda: ledger.requests_answered >= 400, timeout=120, what="400 answered requests")
    wait_until(
        lambda: any(server.settings.events_dir.glob("date=*/*.parquet")),
        timeout=60,
        what="a first Parquet file",
    )
    server.kill()
    for thread in threads:
        thread.join(timeout=60)

    server.start()
    # A retry of acknowledged events after the restart is recognised as a duplicate.
    replay = sorted(ledger.acknowledged)[:50]
    response = httpx.post(
        f"{server.url}/v1/events",
        headers={"Authorization": f"Bearer {keys.ingest}"},
        json=[
            {
                "event_id": e,
                "customer_id": c,
                "event_type": "api_call",
                "feature": "api_calls",
                "quantity": "1",
            }
            for c, e in replay
        ],
    )
    assert response.json() == {"accepted": 0, "duplicates": 50, "rejected": []}
    server.stop()

    stored = Counter(stored_keys(server.settings.events_dir))
    assert ledger.acknowledged, "the test acknowledged nothing"
    missing = ledger.acknowledged - stored.keys()
    assert not missing, f"{len(missing)} acknowledged events were lost, e.g. {sorted(missing)[:3]}"
    twice = {k: n for k, n in stored.items() if n > 1}
    assert not twice, f"{len(twice)} events stored more than once, e.g. {list(twice)[:3]}"
    assert not (ledger.refused & stored.keys()), "a rejected event was stored"


def _children(pid: int) -> set[int]:
    children = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            children.add(int(stat.parent.name))
    return children


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_compactor_worker_dies_with_a_killed_server(server: TollgateServer) -> None:
    """An orphaned compactor would race the restarted server over the same segments."""
    keys = server.create_keys()
    response = httpx.post(
        f"{server.url}/v1/events",
        headers={"Authorization": f"Bearer {keys.ingest}"},
        json=_event(0, 1),
    )
    assert response.status_code == 200
    wait_until(
        lambda: any(server.settings.events_dir.glob("date=*/*.parquet")),
        timeout=60,
        what="the first Parquet file",
    )
    assert server.process is not None
    workers = _children(server.process.pid)
    assert workers, "the compactor worker process was not found"
    server.kill()
    wait_until(
        lambda: not any(_alive(pid) for pid in workers),
        timeout=30,
        what="the compactor worker to exit",
    )
