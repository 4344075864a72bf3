"""A notification as every channel delivers it: frozen when the dispatcher takes it up."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class Notice:
    notification_id: str  # ntf_...: the id the API and dashboards list it under
    customer_id: str
    type: str  # limit_warning, limit_exceeded, billing_cycle_end, spend_alert ...
    severity: str  # info, warning, critical, exceeded
    title: str
    message: str
    feature: str | None
    threshold_percent: int | None
    window_start: datetime
    window_end: datetime
    created_at: datetime  # when it happened (the crossing event's time, the cycle's end ...)
    # When it was raised, for notices raised in real time (late usage can raise today a notice
    # about an event of last week); None for the pipeline's.
    raised_at: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON-ready fields: times as ISO-8601 text."""
        data = asdict(self)
        for name in ("window_start", "window_end", "created_at", "raised_at"):
            if data[name] is not None:
                data[name] = data[name].isoformat()
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Notice:
        times = {
            name: datetime.fromisoformat(data[name])
            for name in ("window_start", "window_end", "created_at", "raised_at")
            if data.get(name) is not None
        }
        return cls(**{**data, **times})
