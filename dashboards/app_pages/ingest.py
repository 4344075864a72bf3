"""Ingest: events per day and feature, straight from the published Parquet files."""

import streamlit as st

from dashboards.queries import events_per_day
from ingest_api.settings import IngestSettings

st.title("Ingested events")
frame = events_per_day(IngestSettings().events_dir)
if frame.is_empty():
    st.info("No events published yet. Run `tollgate demo` to generate some.")
else:
    st.bar_chart(frame, x="date", y="events", color="feature")
