"""Where notices come from: raised in real time (the control plane's ``notifications``: limit
crossings, spend alerts, Stripe's payment and cancellation notices) and derived by the pipeline
(the publication's ``fct_notifications``: the same limit notices, cycle ends).

Both name a notice by the same id, so taking it up once (``DeliveryLedger.take_up``) covers
both. The publication is read again only when a new one appears.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from tollgate.control.deliveries import DeliveryLedger
from tollgate.delivery.notice import Notice
from tollgate.limits.published import current_publication
from tollgate.warehouse.reader import NothingPublishedError, PublishedMarts

_PUBLISHED = """
    select notification_id, customer_id, notification_type, severity, title, message, feature,
        threshold_percent, window_start, window_end, created_at
    from fct_notifications
    where created_at >= $since
    order by created_at, notification_id
"""


class NoticeSources:
    def __init__(
        self,
        ledger: DeliveryLedger,
        marts: PublishedMarts,
        *,
        max_age: timedelta,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._ledger = ledger
        self._marts = marts
        self._max_age = max_age
        self._clock = clock or (lambda: datetime.now(UTC))
        self._read_publication: str | None = None

    def new_notices(self) -> tuple[list[Notice], str | None]:
        """Notices not taken up yet, and the publication they include (pass it to ``seen``
        once they are taken up, so a failure reads it again)."""
        since = self._clock() - self._max_age
        found = self._ledger.raised_not_taken_up(since)
        name = current_publication(self._marts)
        if name is not None and name != self._read_publication:
            found.extend(self._ledger.not_taken_up(self._published(since)))
        return found, name

    def seen(self, publication: str | None) -> None:
        self._read_publication = publication

    def _published(self, since: datetime) -> list[Notice]:
        try:
            connection = self._marts.connect()
        except NothingPublishedError:
            return []
        with connection:
            rows = connection.execute(_PUBLISHED, {"since": since}).fetchall()
        return [
            Notice(
                notification_id=row[0],
                customer_id=row[1],
                type=row[2],
                severity=row[3],
                title=row[4],
                message=row[5],
                feature=row[6],
                threshold_percent=None if row[7] is None else int(row[7]),
                window_start=_utc(row[8]),
                window_end=_utc(row[9]),
                created_at=_utc(row[10]),
            )
            for row in rows
        ]


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
