"""Dagster code location: billing assets built from the ingest API's Parquet events."""
