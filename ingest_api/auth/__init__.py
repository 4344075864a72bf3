"""API keys: hashed storage, scopes, and request authentication."""
