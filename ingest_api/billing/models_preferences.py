"""Bodies of ``/notification-preferences``: which notices the customer receives."""

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt

from tollgate.control.models import NOTIFICATION_TYPES

_TYPES = ", ".join(NOTIFICATION_TYPES)
_ALL_ON = dict.fromkeys(NOTIFICATION_TYPES, True)

NotificationTypeName = Annotated[str, Field(min_length=1, max_length=64)]


class NotificationPreferencesOut(BaseModel):
    types: dict[str, bool] = Field(
        description=f"Every notification type ({_TYPES}) and whether the customer receives "
        "it (false: muted).",
        examples=[{**_ALL_ON, "billing_cycle_end": False}],
    )
    thresholds: list[int] = Field(
        description="The alert thresholds (percent of a limit) whose usage alerts the customer "
        "receives, lowest first; alerts at the others are muted.",
        examples=[[90, 100]],
    )
    available_thresholds: list[int] = Field(
        description="Every alert threshold of the plan catalogue, lowest first: what "
        "`thresholds` may hold.",
        examples=[[75, 90, 100]],
    )
    updated_at: datetime | None = Field(
        description="When the preferences were last changed; null: never (everything is on)."
    )
    email: bool = Field(
        description="Whether the notices received are also e-mailed to the customer's address."
    )


class NotificationPreferencesIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"types": {"billing_cycle_end": False}, "thresholds": [90, 100]},
                {},
            ]
        },
    )

    types: dict[NotificationTypeName, StrictBool] = Field(
        default_factory=dict,
        max_length=100,
        description=f"Notification types to receive (true) or mute (false), of: {_TYPES}. "
        "Types not named are received.",
    )
    thresholds: list[StrictInt] | None = Field(
        default=None,
        max_length=100,
        description="Which of the catalogue's alert thresholds (`available_thresholds` of GET) "
        "to receive usage alerts at; null or left out: all of them; []: none.",
    )
    email: StrictBool | None = Field(
        default=None,
        description="Also e-mail the notices received to the customer's address (true), or "
        "stop (false); null or left out: as it is. Needs the customer to have an address.",
    )
