"""Webhook signatures: an HMAC-SHA256 over the timestamp and the body, as Stripe signs its own.

Header ``Tollgate-Signature: t=<unix seconds>,v1=<hex digest>``; the digest is
``HMAC-SHA256(key=<endpoint secret, as shown: whsec_...>, msg=f"{t}.{body}")`` over the raw body
bytes. Signing the timestamp with the body lets a receiver refuse a replayed request (older than
its tolerance) without keeping state; several ``v1=`` values may appear while a secret is being
rolled, and any one matching is enough. ``docs/notifications.md`` documents the scheme for
receivers, with a verification snippet that needs only the standard library.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

HEADER = "Tollgate-Signature"
SCHEME = "v1"
SECRET_PREFIX = "whsec_"  # noqa: S105 (a prefix, not a secret)
DEFAULT_TOLERANCE_SECONDS = 300


class SignatureError(ValueError):
    """The request is not signed by this secret within the tolerance: refuse it."""


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    signed = str(timestamp).encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The header's value for ``body`` sent at ``timestamp``."""
    return f"t={timestamp},{SCHEME}={signature(secret, timestamp, body)}"


def verify(
    secret: str,
    header: str | None,
    body: bytes,
    *,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> int:
    """Checks a received request; returns its timestamp, or raises ``SignatureError``."""
    if not header:
        raise SignatureError(f"no {HEADER} header")
    timestamp: int | None = None
    candidates: list[str] = []
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t" and value.isascii() and value.isdigit():
            timestamp = int(value)
        elif key == SCHEME:
            candidates.append(value)
    if timestamp is None or not candidates:
        raise SignatureError(f"{HEADER} must look like t=<unix seconds>,{SCHEME}=<hex>")
    age = (time.time() if now is None else now) - timestamp
    if abs(age) > tolerance_seconds:
        raise SignatureError(
            f"timestamp is {int(age)} s away from now, beyond the {tolerance_seconds} s tolerance"
        )
    expected = signature(secret, timestamp, body)
    if not any(hmac.compare_digest(expected, candidate) for candidate in candidates):
        raise SignatureError("no signature matches this secret and body")
    return timestamp
