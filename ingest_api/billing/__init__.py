"""The billing API, ``/api/billing/...``: what customers and services ask about their billing."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/billing", tags=["billing"])
