"""Metering dependencies and middleware, in-process, sending to a real Tollgate server."""

# No ``from __future__ import annotations``: FastAPI evaluates the ``Annotated[..., Depends(
# metering....)]`` parameter types at import, and as strings they would name a local variable.

from collections.abc import Iterator
from decimal import Decimal
from typing import Annotated, cast

import pytest
from fastapi import Depends, FastAPI, HTTPException, Request, Response
from fastapi.testclient import TestClient

from tests.support.parquet import stored_rows
from tests.support.server import ServerKeys, TollgateServer, free_port
from tollgate.client import TollgateClient
from tollgate.metering import AiUsage, Metering, MeteringMiddleware, StorageUsage

pytestmark = pytest.mark.slow  # most tests here start a real Tollgate server

CUSTOMER = {"X-Customer-Id": "cus_meter"}

# (customer_id, event_type, feature, quantity, unit, properties): what billing cares about.
Billed = tuple[str, str, str, Decimal, str, dict[str, str]]


@pytest.fixture
def tollgate(server: TollgateServer, keys: ServerKeys) -> Iterator[TollgateClient]:
    with TollgateClient(server.url, keys.ingest) as client:
        yield client


def billing_view(rows: list[dict[str, object]]) -> list[Billed]:
    """Stored rows reduced to what an invoice depends on, sorted."""
    return sorted(
        (
            str(row["customer_id"]),
            str(row["event_type"]),
            str(row["feature"]),
            Decimal(str(row["quantity"])),
            str(row["unit"]),
            cast(dict[str, str], row["properties"]),
        )
        for row in rows
    )


def billed(server: TollgateServer, client: TollgateClient) -> list[Billed]:
    """What Tollgate stored, once everything was sent and the server published it."""
    assert client.flush(timeout=30)
    server.stop()
    return billing_view(stored_rows(server.settings.events_dir))


def metered_app(metering: Metering) -> FastAPI:
    app = FastAPI()

    @app.get("/notes/{note_id}", dependencies=[Depends(metering.track_api_usage("notes.read"))])
    async def read_note(note_id: int) -> dict[str, int]:
        return {"id": note_id}

    @app.get("/broken", dependencies=[Depends(metering.track_api_usage("notes.broken"))])
    async def broken() -> None:
        raise HTTPException(500, "boom")

    @app.get("/missing", dependencies=[Depends(metering.track_api_usage("notes.missing"))])
    async def missing(response: Response) -> dict[str, str]:
        # An error status set without raising must not be billed either.
        response.status_code = 404
        return {"detail": "no such note"}

    @app.post("/summaries")
    async def summarize(
        usage: Annotated[AiUsage, Depends(metering.track_ai_usage("gpt-4o-mini"))],
        prompt: int = 0,
        completion: int = 0,
        fail: bool = False,
    ) -> dict[str, str]:
        usage.record(prompt_tokens=prompt, completion_tokens=completion)
        if fail:
            raise HTTPException(500, "the model timed out")
        return {"summary": "..."}

    @app.put("/files/{name}")
    async def upload(
        name: str,
        request: Request,
        usage: Annotated[StorageUsage, Depends(metering.track_storage_usage("upload"))],
        explicit: int | None = None,
    ) -> dict[str, str]:
        await request.body()
        if explicit is not None:
            usage.record(bytes_=explicit)
        return {"name": name}

    return app


def test_track_api_usage_bills_one_call_per_successful_request(
    server: TollgateServer, tollgate: TollgateClient
) -> None:
    with TestClient(metered_app(Metering(tollgate))) as http:
        assert http.get("/notes/1", headers=CUSTOMER).status_code == 200
        assert http.get("/notes/2", headers={"X-Customer-Id": "cus_other"}).status_code == 200

    call = (
        "api_call",
        "notes.read",
        Decimal(1),
        "call",
        {"method": "GET", "route": "/notes/{note_id}"},
    )
    assert billed(server, tollgate) == [("cus_meter", *call), ("cus_other", *call)]


def test_failed_requests_are_not_billed(server: TollgateServer, tollgate: TollgateClient) -> None:
    with TestClient(metered_app(Metering(tollgate)), raise_server_exceptions=False) as http:
        assert http.get("/broken", headers=CUSTOMER).status_code == 500
        assert http.get("/missing", headers=CUSTOMER).status_code == 404
        assert http.get("/notes/not-a-number", headers=CUSTOMER).status_code == 422
        failed = http.post("/summaries?prompt=50&completion=5&fail=true", headers=CUSTOMER)
        assert failed.status_code == 500

    assert billed(server, tollgate) == []


def test_requests_without_a_customer_are_served_but_not_billed(
    server: TollgateServer, tollgate: TollgateClient, caplog: pytest.LogCaptureFixture
) -> None:
    with TestClient(metered_app(Metering(tollgate))) as http:
        assert http.get("/notes/1").status_code == 200

    assert "no customer id" in caplog.text
    assert billed(server, tollgate) == []


def test_track_ai_usage_bills_prompt_and_completion_tokens(
    server: TollgateServer, tollgate: TollgateClient
) -> None:
    with TestClient(metered_app(Metering(tollgate))) as http:
        assert http.post("/summaries?prompt=812&completion=64", headers=CUSTOMER).is_success
        # Zero counts are skipped: no event with quantity 0.
        assert http.post("/summaries?prompt=30", headers=CUSTOMER).is_success

    def tokens(count: int, token_type: str) -> Billed:
        properties = {"model": "gpt-4o-mini", "token_type": token_type}
        return ("cus_meter", "ai_tokens", "ai_tokens", Decimal(count), "token", properties)

    assert billed(server, tollgate) == sorted(
        [tokens(812, "prompt"), tokens(64, "completion"), tokens(30, "prompt")]
    )


def test_track_storage_usage_bills_recorded_bytes_or_content_length(
    server: TollgateServer, tollgate: TollgateClient
) -> None:
    with TestClient(metered_app(Metering(tollgate))) as http:
        assert http.put("/files/a.txt", headers=CUSTOMER, content=b"x" * 1500).is_success
        assert http.put("/files/b.txt?explicit=4096", headers=CUSTOMER, content=b"xy").is_success

    def stored(size: int) -> Billed:
        return ("cus_meter", "storage", "storage", Decimal(size), "byte", {"operation": "upload"})

    assert billed(server, tollgate) == [stored(1500), stored(4096)]


def test_customer_id_can_come_from_anywhere(
    server: TollgateServer, tollgate: TollgateClient
) -> None:
    metering = Metering(tollgate, customer_id_from=lambda request: request.query_params.get("c"))
    with TestClient(metered_app(metering)) as http:
        assert http.get("/notes/7?c=cus_query").is_success

    (event,) = billed(server, tollgate)
    assert event[0] == "cus_query"


def test_middleware_bills_every_successful_request(
    server: TollgateServer, tollgate: TollgateClient
) -> None:
    app = FastAPI()
    app.add_middleware(MeteringMiddleware, client=tollgate, feature="api")

    @app.get("/items/{item_id}")
    async def item(item_id: int) -> dict[str, int]:
        return {"id": item_id}

    @app.post("/crash")
    async def crash() -> None:
        raise RuntimeError("bug")

    with TestClient(app, raise_server_exceptions=False) as http:
        assert http.get("/items/1", headers=CUSTOMER).status_code == 200
        assert http.get("/items/2", headers=CUSTOMER).status_code == 200
        assert http.get("/nowhere", headers=CUSTOMER).status_code == 404
        assert http.post("/crash", headers=CUSTOMER).status_code == 500
        assert http.get("/items/3").status_code == 200  # no customer: served, not billed

    call = ("cus_meter", "api_call", "api", Decimal(1), "call")
    route = {"method": "GET", "route": "/items/{item_id}"}
    assert billed(server, tollgate) == [(*call, route), (*call, route)]


def test_metering_survives_a_closed_client(caplog: pytest.LogCaptureFixture) -> None:
    client = TollgateClient(f"http://127.0.0.1:{free_port()}", "tg_unused")
    client.close()
    with TestClient(metered_app(Metering(client))) as http:
        assert http.get("/notes/1", headers=CUSTOMER).status_code == 200
    assert "usage lost" in caplog.text


def test_enforce_usage_limits_shares_the_customer_id_of_the_trackers(
    server: TollgateServer, tollgate: TollgateClient
) -> None:
    # Its behaviour is tested in test_enforce_usage_limits.py; here, that a custom
    # customer_id_from reaches it too: the check is made for (and kept under) that customer.
    metering = Metering(tollgate, customer_id_from=lambda request: request.query_params.get("c"))
    app = FastAPI(lifespan=metering.lifespan)

    @app.get("/checked", dependencies=[Depends(metering.enforce_usage_limits("api_calls"))])
    async def checked(request: Request) -> dict[str, str]:
        check = request.state.limit_checks["api_calls"]
        return {"customer_id": check.customer_id, "reason": check.reason}

    with TestClient(app) as http:
        answer = http.get("/checked?c=cus_query").json()

    assert answer == {
        "customer_id": "cus_query",
        "reason": "no active subscription: no limit applies",
    }
