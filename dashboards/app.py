"""Entry point of the Streamlit app: ``streamlit run dashboards/app.py``."""

import streamlit as st

st.set_page_config(page_title="Tollgate", layout="wide")
navigation = st.navigation([st.Page("app_pages/ingest.py", title="Ingest", icon="📥")])
navigation.run()
