"""The control plane: what people change (customers, subscriptions, limits, API keys).

One database (SQLite by default, PostgreSQL by URL), changed only through ``ControlService``
and ``KeyStore``, each change audited; the pipeline reads it through ``export_snapshot``.
"""
