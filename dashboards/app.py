"""Entry point of the Streamlit app: ``streamlit run dashboards/app.py``.

The navigation is built from who is signed in, so a page someone may not see is not even
listed; each page still checks access itself (``require_customer``, ``require_admin``).
"""

import streamlit as st

from dashboards.auth import sign_in_sidebar

st.set_page_config(page_title="Tollgate", layout="wide")
signed_in = sign_in_sidebar()
if signed_in is None:
    pages = [st.Page("app_pages/sign_in.py", title="Sign in", icon="🔑")]
else:
    pages = [st.Page("app_pages/overview.py", title="Overview", icon="📊", default=True)]
    if signed_in.is_admin:
        pages.append(st.Page("app_pages/ingest.py", title="Ingest", icon="📥"))
navigation = st.navigation(pages)
navigation.run()
