"""Durability: write-ahead log with group commit, Parquet compaction, and the dedup index."""
