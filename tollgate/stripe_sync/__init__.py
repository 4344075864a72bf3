"""Tollgate to Stripe Billing: catalogue, customers and subscriptions, metered usage."""
