"""Delivery of notifications by e-mail and signed webhooks, exactly once per channel."""
