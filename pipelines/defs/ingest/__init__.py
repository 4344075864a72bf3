"""Assets the ingest API produces (observed here, never written by Dagster)."""
