"""The billing API, ``/api/billing/...``: what customers and services ask about their billing.

Every request acts for one customer (``auth.py`` says which); each ``routes_*`` module serves
one resource and is included here. ``docs/api.md`` describes the API for its users.
"""

from fastapi import APIRouter

from ingest_api.billing import (
    routes_admin,
    routes_deliveries,
    routes_invoices,
    routes_limits,
    routes_notification_preferences,
    routes_notifications,
    routes_plans,
    routes_pricing,
    routes_spend,
    routes_subscription,
    routes_summary,
    routes_usage,
    routes_webhook_endpoints,
)

router = APIRouter(prefix="/api/billing", tags=["billing"])
for _module in (
    routes_plans,
    routes_summary,
    routes_usage,
    routes_limits,
    routes_subscription,
    routes_invoices,
    routes_notifications,
    routes_notification_preferences,
    routes_spend,
    routes_webhook_endpoints,
    routes_deliveries,
    routes_pricing,
    routes_admin,
):
    router.include_router(_module.router)
