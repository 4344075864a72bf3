"""Ingest (operators only): events per day and feature, straight from the published files."""

import streamlit as st

from dashboards.auth import require_admin
from dashboards.queries import events_per_day
from ingest_api.settings import IngestSettings

require_admin()
st.title("Ingested events")
frame = events_per_day(IngestSettings().events_dir)
if frame.is_empty():
    st.info("No events published yet. Run `tollgate demo` to generate some.")
else:
    st.bar_chart(frame, x="date", y="events", color="feature")
