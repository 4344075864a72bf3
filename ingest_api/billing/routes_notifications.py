"""``/notifications``: usage alerts and cycle-end notices, and marking them read.

A notice can come from two places with the same id (``tollgate.billing.identifiers``): the
pipeline's ``fct_notifications`` and the ones the ingest API raised in real time
(``ControlService.raised_notifications``). They are merged by id, and read marks are taken
live from the control plane, so a notice marked read disappears from the unread list at once,
not after the next pipeline run. Notices the customer muted (``/notification-preferences``)
are left out of both lists, here and nowhere else.
"""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request

from ingest_api.billing.auth import Caller, CustomerCaller
from ingest_api.billing.errors import control_errors, error_responses, not_found
from ingest_api.billing.marts import publication
from ingest_api.billing.models_invoices import (
    MarkRead,
    MarkReadResult,
    NotificationList,
    NotificationOut,
    ReadMark,
)
from tollgate.warehouse.reader import PublishedMarts

router = APIRouter()

_PUBLISHED = """
    select notification_id, notification_type, severity, feature, threshold_percent,
        window_start, window_end, created_at, title, message, is_read, read_at
    from fct_notifications
    where customer_id = $customer
"""


def all_notifications(
    marts: PublishedMarts, caller: Caller, *, include_muted: bool = False
) -> tuple[datetime | None, list[NotificationOut]]:
    """Every notice of the customer, read or not, newest first; and the publication's as_of.

    Notices of a type or alert threshold the customer muted are left out, unless
    ``include_muted``. Public: the dashboards list notices with it, in-process."""
    with publication(marts) as published:
        as_of = published.as_of if published else None
        rows = published.rows(_PUBLISHED, {"customer": caller.customer_id}) if published else []
    with control_errors():
        raised = caller.control.raised_notifications(caller.customer_id)
        reads = caller.control.read_notifications(caller.customer_id)
        preferences = caller.control.notification_preferences(caller.customer_id)
    found: dict[str, NotificationOut] = {}
    for row in rows:
        found[row["notification_id"]] = NotificationOut(
            id=row["notification_id"],
            type=row["notification_type"],
            severity=row["severity"],
            feature=row["feature"],
            threshold_percent=row["threshold_percent"],
            window_start=row["window_start"],
            window_end=row["window_end"],
            created_at=row["created_at"],
            title=row["title"],
            message=row["message"],
            is_read=bool(row["is_read"]),
            read_at=row["read_at"],
        )
    for notice in raised:
        # The pipeline's row, when there is one, is the same notice (same id and text).
        found.setdefault(
            notice.notification_id,
            NotificationOut(
                id=notice.notification_id,
                type=notice.notification_type,
                severity=notice.severity,
                feature=notice.feature,
                threshold_percent=notice.threshold_percent,
                window_start=notice.window_start,
                window_end=notice.window_end,
                created_at=notice.created_at,
                title=notice.title,
                message=notice.message,
                is_read=False,
                read_at=None,
            ),
        )
    for notification_id, read_at in reads.items():
        if notification_id in found:
            found[notification_id] = found[notification_id].model_copy(
                update={"is_read": True, "read_at": read_at}
            )
    ordered = sorted(found.values(), key=lambda n: (n.created_at, n.id), reverse=True)
    if not include_muted:
        ordered = [n for n in ordered if preferences.receives(n.type, n.threshold_percent)]
    return as_of, ordered


@router.get(
    "/notifications",
    summary="List the customer's unread notifications",
    description=(
        "Usage alerts (75 % / 90 % of a limit: limit_warning, 100 %: limit_exceeded) and "
        "billing-cycle-end notices, newest first: those the pipeline derived (as of `as_of`) "
        "and those the API raised the moment usage crossed a threshold, each once. Unread "
        "only, unless `include_read=true`. Notices of a type or alert threshold the customer "
        "muted (PUT /api/billing/notification-preferences) are never listed, read or not."
    ),
    response_model=NotificationList,
    responses=error_responses(400, 401, 403, 404),
)
def list_notifications(
    request: Request,
    caller: CustomerCaller,
    include_read: Annotated[bool, Query(description="Also list notices already read.")] = False,
) -> NotificationList:
    as_of, notifications = all_notifications(request.app.state.marts, caller)
    if not include_read:
        notifications = [n for n in notifications if not n.is_read]
    return NotificationList(as_of=as_of, notifications=notifications)


@router.post(
    "/notifications/mark-read",
    summary="Mark notifications read",
    description=(
        "Records that the customer read these notifications (marking one again keeps its "
        "first read time). Every id must be one of the customer's notifications (muted ones "
        "included); otherwise 404 and nothing is marked."
    ),
    response_model=MarkReadResult,
    responses=error_responses(400, 401, 403, 404, 422),
)
def mark_read(request: Request, caller: CustomerCaller, body: MarkRead) -> MarkReadResult:
    return mark_notifications_read(request.app.state.marts, caller, body.notification_ids)


def mark_notifications_read(
    marts: PublishedMarts, caller: Caller, notification_ids: list[str]
) -> MarkReadResult:
    """Marks the customer's notices read, all or none (``RequestError`` 404 names an unknown
    id). Muted notices may be marked too: their ids were listed before they were muted.

    Public: the dashboard's Settings page marks notices read with it, in-process."""
    _, notifications = all_notifications(marts, caller, include_muted=True)
    known = {n.id for n in notifications}
    wanted = list(dict.fromkeys(notification_ids))
    for notification_id in wanted:
        if notification_id not in known:
            raise not_found(
                "unknown_notification",
                f"no notification '{notification_id}' for this customer; nothing was marked",
                "Use ids from GET /api/billing/notifications.",
            )
    marks = []
    with control_errors():
        for notification_id in wanted:
            read_at = caller.control.mark_notification_read(caller.customer_id, notification_id)
            marks.append(ReadMark(id=notification_id, read_at=read_at))
    return MarkReadResult(notifications=marks)
