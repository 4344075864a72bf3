"""Idempotency keys on POST, as Stripe documents them.

The first request with a key stores its status and body; a later request with the same key
and the same parameters gets that response again with ``Idempotent-Replayed: true``; the same
key with other parameters (or another endpoint) is refused with a 400 ``idempotency_error``.
Stripe saves a result only once an endpoint has started executing, so requests refused by
validation (4xx) are not saved and can be retried with the same key. Keys expire after 24 h.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field

from tollgate.stripe_standin.errors import StripeError

EXPIRY = 24 * 3_600


@dataclass(frozen=True)
class Saved:
    fingerprint: str
    status: int
    body: bytes
    created: int


@dataclass
class IdempotencyKeys:
    saved: dict[str, Saved] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @staticmethod
    def fingerprint(method: str, path: str, body: bytes) -> str:
        return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + body).hexdigest()

    def replay(self, key: str, fingerprint: str, now: int) -> Saved | None:
        with self._lock:
            saved = self.saved.get(key)
            if saved is None or now - saved.created >= EXPIRY:
                return None
        if saved.fingerprint != fingerprint:
            raise StripeError(
                400,
                "Keys for idempotent requests can only be used with the same parameters they "
                f"were first used with. Try using a key other than '{key}' if you meant to "
                "execute a different request.",
                type_="idempotency_error",
            )
        return saved

    def save(self, key: str, fingerprint: str, status: int, body: bytes, now: int) -> None:
        if 400 <= status < 500:
            return
        with self._lock:
            self.saved[key] = Saved(fingerprint, status, body, now)
