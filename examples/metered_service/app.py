"""Notes with AI summaries: a toy service that bills its customers through Tollgate.

Each metered endpoint shows one dependency of ``tollgate.metering``:

* ``GET /notes`` and ``POST /notes``: ``track_api_usage``, one ``api_call`` per request;
* ``POST /summaries``: ``track_ai_usage``, prompt and completion tokens of a (fake) model,
  and ``enforce_usage_limits("ai_tokens")``: a customer past a hard limit of AI tokens (the
  free plan's 10,000) gets 429 with a Retry-After instead of a summary;
* ``PUT /files/{name}``: ``track_storage_usage``, the bytes uploaded.

Customers identify themselves with the ``X-Customer-Id`` header (a real service would take
the customer from its authentication). State is in memory: this is a demo, not a notes app.
"""

# No ``from __future__ import annotations``: FastAPI evaluates the ``Annotated[..., Depends(
# metering....)]`` parameter types at import, and as strings they would name a local variable.

import math
from collections import defaultdict
from typing import Annotated

from fastapi import Depends, FastAPI, Header, Request
from pydantic import BaseModel, Field

from tollgate.client import TollgateClient
from tollgate.metering import CUSTOMER_ID_HEADER, AiUsage, Metering, StorageUsage

MODEL = "gpt-4o-mini"
SUMMARY_WORDS = 12
# A common rule of thumb for English text with GPT tokenizers.
CHARS_PER_TOKEN = 4

Customer = Annotated[str, Header(alias=CUSTOMER_ID_HEADER, min_length=1)]


class NoteIn(BaseModel):
    text: str = Field(min_length=1, max_length=10_000)


class Note(BaseModel):
    id: int
    text: str


class SummaryIn(BaseModel):
    text: str = Field(min_length=1, max_length=100_000)


class Summary(BaseModel):
    summary: str
    prompt_tokens: int
    completion_tokens: int


class StoredFile(BaseModel):
    name: str
    bytes: int


def fake_tokens(text: str) -> int:
    return max(1, math.ceil(len(text) / CHARS_PER_TOKEN))


def fake_summary(text: str) -> str:
    words = text.split()
    head = " ".join(words[:SUMMARY_WORDS])
    return head if len(words) <= SUMMARY_WORDS else head + " ..."


def create_app(client: TollgateClient) -> FastAPI:
    """The service, metering into ``client``. The caller owns the client (and closes it)."""
    metering = Metering(client)
    notes: dict[str, list[Note]] = defaultdict(list)
    files: dict[tuple[str, str], bytes] = {}
    # The lifespan sends queued usage at shutdown (see Metering.lifespan for why it matters).
    app = FastAPI(title="Notes with AI summaries (metered by Tollgate)", lifespan=metering.lifespan)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        # Not metered: probes are not customer usage.
        return {"status": "ok"}

    @app.get("/notes", dependencies=[Depends(metering.track_api_usage("notes.list"))])
    async def list_notes(customer: Customer) -> list[Note]:
        return notes[customer]

    @app.post(
        "/notes",
        status_code=201,
        dependencies=[Depends(metering.track_api_usage("notes.create"))],
    )
    async def create_note(customer: Customer, body: NoteIn) -> Note:
        note = Note(id=len(notes[customer]) + 1, text=body.text)
        notes[customer].append(note)
        return note

    # The costly endpoint refuses work once the customer's plan says no more tokens; the
    # check runs first, so a refused request never reaches the model and is not billed.
    @app.post("/summaries", dependencies=[Depends(metering.enforce_usage_limits("ai_tokens"))])
    async def summarize(
        customer: Customer,
        body: SummaryIn,
        usage: Annotated[AiUsage, Depends(metering.track_ai_usage(MODEL))],
    ) -> Summary:
        summary = fake_summary(body.text)
        prompt_tokens, completion_tokens = fake_tokens(body.text), fake_tokens(summary)
        # What a real model client reports back; the dependency bills it after we return.
        usage.record(prompt_tokens=prompt_tokens, completion_tokens=completion_tokens)
        return Summary(
            summary=summary, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens
        )

    @app.put("/files/{name}")
    async def upload(
        customer: Customer,
        name: str,
        request: Request,
        usage: Annotated[StorageUsage, Depends(metering.track_storage_usage("upload"))],
    ) -> StoredFile:
        data = await request.body()
        files[customer, name] = data
        # Explicit, so chunked uploads (no Content-Length) are billed too.
        usage.record(bytes_=len(data))
        return StoredFile(name=name, bytes=len(data))

    return app
