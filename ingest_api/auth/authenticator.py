"""Turns an ``Authorization`` header into an API key, or a 401/403 error.

Keys are cached in memory and re-read whenever the key store's version changes (a few
microseconds per request instead of a query; see ``KeyStore.version``), so ``tollgate keys
create`` and ``revoke`` take effect on a running server at once (within a second on PostgreSQL).
"""

from __future__ import annotations

from ingest_api.events.errors import RequestError
from tollgate.control.api_keys import ApiKey, KeyStore, Scope, hash_token


class Authenticator:
    def __init__(self, store: KeyStore) -> None:
        self._store = store
        self._keys: dict[str, ApiKey] = {}
        # Tokens already seen, so a busy client costs a dict lookup rather than a SHA-256 per
        # request; bounded because tokens are client-controlled, cleared on any store change.
        self._seen: dict[str, ApiKey | None] = {}
        self._version: bytes | None = None

    def _lookup(self, token: str) -> ApiKey | None:
        version = self._store.version()
        if version != self._version:
            self._keys = self._store.active_by_hash()
            self._seen.clear()
            self._version = version
        try:
            return self._seen[token]
        except KeyError:
            key = self._keys.get(hash_token(token))
            if len(self._seen) < 10_000:
                self._seen[token] = key
            return key

    def authenticate(self, authorization: str | None, *scopes: Scope) -> ApiKey:
        """The key behind the header, if it holds any one of ``scopes``."""
        if not authorization:
            raise RequestError(
                401,
                "missing_api_key",
                "No API key: the Authorization header is missing.",
                "Send 'Authorization: Bearer <key>'; create a key with 'tollgate keys create'.",
            )
        kind, _, token = authorization.partition(" ")
        if kind.lower() != "bearer" or not token.strip():
            raise RequestError(
                401,
                "malformed_authorization",
                "The Authorization header is not of the form 'Bearer <key>'.",
                "Send 'Authorization: Bearer <key>'.",
            )
        key = self._lookup(token.strip())
        if key is None:
            raise RequestError(
                401,
                "invalid_api_key",
                "The API key is unknown or has been revoked.",
                "Check the key, or create a new one with 'tollgate keys create'.",
            )
        if not any(key.allows(scope) for scope in scopes):
            wanted = " or ".join(f"'{scope}'" for scope in scopes)
            raise RequestError(
                403,
                "insufficient_scope",
                f"The key '{key.name}' ({key.key_id}) lacks the {wanted} scope "
                f"(it has: {', '.join(sorted(key.scopes))}).",
                f"Use a key created with '--scope {scopes[0]}'.",
            )
        return key
