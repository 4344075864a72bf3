"""The marts as readers see them: immutable Parquet publications, never the warehouse file.

DuckDB lets one process open a database file read-write, or any number open it read-only, but
never both at once. If the billing API or the dashboards opened ``warehouse.duckdb``, a pipeline
run could not write it while they read (and they could not read while it writes). So the
pipeline, after each run, publishes the marts it built as a directory of Parquet files
(``publish_marts``), and readers query the current publication through their own in-memory
DuckDB (``PublishedMarts``). Neither side ever waits for the other.
"""

from tollgate.warehouse.publication import MANIFEST, PREFIX, publish_marts
from tollgate.warehouse.reader import NothingPublishedError, PublishedMarts

__all__ = ["MANIFEST", "PREFIX", "NothingPublishedError", "PublishedMarts", "publish_marts"]
