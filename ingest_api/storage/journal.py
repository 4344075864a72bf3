"""What happened to events that did not simply count: rejections and duplicate deliveries.

Accepted events are answered from the dedup index; this journal answers the rest of
``GET /v1/events/{event_id}``. It is an append-only JSON-lines file (not fsync'd: it explains,
it does not bill) with an in-memory view bounded to the most recent attempts.
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from pathlib import Path
from typing import IO, Literal

import msgspec

Outcome = Literal["rejected", "duplicate"]


class Attempt(msgspec.Struct, frozen=True):
    event_id: str
    customer_id: str | None
    outcome: Outcome
    received_at: str
    field: str | None = None
    reason: str | None = None


_MAX_ATTEMPTS_PER_EVENT = 10


class AttemptJournal:
    def __init__(
        self, path: Path, *, max_events: int = 100_000, max_file_bytes: int = 64 * 1024 * 1024
    ) -> None:
        self._path = path
        self._max_events = max_events
        self._max_file_bytes = max_file_bytes
        self._by_event: OrderedDict[str, list[Attempt]] = OrderedDict()
        self._encoder = msgspec.json.Encoder()
        self._file: IO[bytes] | None = None

    def open(self) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        decoder = msgspec.json.Decoder(Attempt)
        for old in (self._path.with_suffix(".jsonl.1"), self._path):
            if not old.exists():
                continue
            with old.open("rb") as lines:
                for line in lines:
                    # A torn last line after a crash is expected; skip it.
                    with contextlib.suppress(msgspec.DecodeError):
                        self._remember(decoder.decode(line))
        self._file = self._path.open("ab")

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def record(self, attempts: list[Attempt]) -> None:
        if not attempts:
            return
        for attempt in attempts:
            self._remember(attempt)
        if self._file is None:
            return
        self._file.write(b"".join(self._encoder.encode(a) + b"\n" for a in attempts))
        self._file.flush()
        if self._file.tell() > self._max_file_bytes:
            self._rotate()

    def attempts(self, event_id: str, customer_id: str) -> list[Attempt]:
        return [a for a in self._by_event.get(event_id, []) if a.customer_id in (customer_id, None)]

    def _remember(self, attempt: Attempt) -> None:
        history = self._by_event.pop(attempt.event_id, [])
        history.append(attempt)
        self._by_event[attempt.event_id] = history[-_MAX_ATTEMPTS_PER_EVENT:]
        while len(self._by_event) > self._max_events:
            self._by_event.popitem(last=False)

    def _rotate(self) -> None:
        assert self._file is not None
        self._file.close()
        self._path.replace(self._path.with_suffix(".jsonl.1"))
        self._file = self._path.open("ab")
