"""The pages of the app, in navigation order; each page's title starts with its label.

``app.py`` builds the navigation from these lists, and the browser test and the page-time
benchmark walk them, so a new page is listed, screenshotted and timed by adding it here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PageSpec:
    file: str  # under dashboards/
    label: str  # the sidebar link, and the start of the page's title
    icon: str  # a Material Symbols name: served with Streamlit, so no emoji font is needed


CUSTOMER_PAGES = (
    PageSpec("app_pages/overview.py", "Overview", ":material/dashboard:"),
    PageSpec("app_pages/usage.py", "Usage", ":material/show_chart:"),
    PageSpec("app_pages/billing.py", "Invoices & plan", ":material/receipt_long:"),
    PageSpec("app_pages/settings.py", "Settings", ":material/settings:"),
)
ADMIN_PAGES = (
    PageSpec("app_pages/admin_usage.py", "Usage trends", ":material/trending_up:"),
    PageSpec("app_pages/admin_revenue.py", "Revenue", ":material/payments:"),
    PageSpec("app_pages/admin_customers.py", "Customers", ":material/group:"),
    PageSpec("app_pages/admin_limits.py", "Limit utilization", ":material/speed:"),
    PageSpec("app_pages/admin_notifications.py", "Notifications", ":material/notifications:"),
    PageSpec("app_pages/admin_deliveries.py", "Deliveries", ":material/outgoing_mail:"),
    PageSpec("app_pages/admin_pipeline.py", "Pipeline freshness", ":material/schedule:"),
    PageSpec("app_pages/ingest.py", "Ingested events", ":material/input:"),
)
SIGN_IN_PAGE = PageSpec("app_pages/sign_in.py", "Sign in", ":material/key:")
