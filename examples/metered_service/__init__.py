"""A small FastAPI service that meters its own usage into Tollgate (see examples/README.md)."""

from examples.metered_service.app import create_app

__all__ = ["create_app"]
