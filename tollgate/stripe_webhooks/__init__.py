"""Stripe webhooks: verify, then apply each event once and in order (docs/api.md)."""
