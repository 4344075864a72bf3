"""Shown to anyone not signed in: the sidebar holds the form."""

import streamlit as st

st.title("Tollgate")
st.info(
    "Sign in with your Tollgate API key in the sidebar. Customers use their own key "
    "(`tollgate keys create --customer <id>`); operators use an admin key."
)
