"""Streamlit dashboards: each customer's billing, and admin analytics (issue 7)."""
