"""Entry point of the Streamlit app: ``streamlit run dashboards/app.py`` (``tollgate dashboards``).

The navigation is built from who is signed in, so a page someone may not see is not even
listed; each page still checks access itself (``require_customer``, ``require_admin``).
"""

import streamlit as st

# Every page's modules, imported with the app (once per server process) rather than by the
# first visitor of each page: they take about half a second.
import dashboards.admin_queries
import dashboards.charts
import dashboards.customer_billing
import dashboards.customer_settings
import dashboards.customer_usage  # noqa: F401
from dashboards.auth import sign_in_sidebar
from dashboards.pages import ADMIN_PAGES, CUSTOMER_PAGES, SIGN_IN_PAGE, PageSpec


def _page(spec: PageSpec, *, default: bool = False) -> st.Page:
    return st.Page(spec.file, title=spec.label, icon=spec.icon, default=default)


st.set_page_config(page_title="Tollgate", page_icon=":material/receipt_long:", layout="wide")
signed_in = sign_in_sidebar()
pages: dict[str, list[st.Page]]
if signed_in is None:
    pages = {"": [_page(SIGN_IN_PAGE)]}
else:
    pages = {"Billing": [_page(spec, default=n == 0) for n, spec in enumerate(CUSTOMER_PAGES)]}
    if signed_in.is_admin:
        pages["Admin analytics"] = [_page(spec) for spec in ADMIN_PAGES]
navigation = st.navigation(pages)
navigation.run()
