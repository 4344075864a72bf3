"""The delivery ledger: which notices were taken up, and each one's delivery per channel.

Exactly once per channel:
- ``take_up`` records a notice in ``notification_outbox`` (primary key: its id) together with
  one ``notification_deliveries`` row per channel target, in one transaction; a notice seen
  again (a pipeline re-run, a restart, another process) finds its id taken and adds nothing.
- ``claim`` moves a due delivery to ``sending`` with a lease and opens an attempt row, and
  commits before anything is sent; ``finish`` closes the attempt and moves the delivery to
  ``delivered`` (never claimed again), back to ``pending`` with the next retry time, or to
  ``failed``. Only the claim that is still current may finish (the attempt number must match).
- A process that died mid-attempt leaves a ``sending`` row whose lease runs out; the next claim
  marks that attempt ``interrupted`` and sends again with the same delivery id (the webhook's
  ``Tollgate-Delivery-Id``, the e-mail's ``Message-ID``), so the receiver can recognise the
  copy: the only moment a notice can reach a channel twice is a crash between the receiver's
  "accepted" and the commit that records it, and then it carries the same id.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, and_, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from tollgate.billing.identifiers import delivery_id as make_delivery_id
from tollgate.control import audit
from tollgate.control.database import read_transaction, write_transaction
from tollgate.control.errors import ConflictError, NotFoundError
from tollgate.control.models import NotificationPreferences
from tollgate.control.schema import (
    customers,
    delivery_attempts,
    notification_deliveries,
    notification_outbox,
    notifications,
    webhook_endpoints,
)
from tollgate.delivery.notice import Notice

EMAIL = "email"
WEBHOOK = "webhook"
ERROR_MAX = 1000
_CHUNK = 500


@dataclass(frozen=True, slots=True)
class Attempt:
    attempt: int
    trigger: str  # first | retry | recovery | resend
    started_at: datetime
    finished_at: datetime | None
    outcome: str | None  # delivered | failed | interrupted; None while running
    status_code: int | None
    error: str | None
    duration_ms: int | None


@dataclass(frozen=True, slots=True)
class Delivery:
    delivery_id: str
    notification_id: str
    customer_id: str
    channel: str
    target: str
    status: str  # pending | sending | delivered | failed
    attempts: int
    next_attempt_at: datetime | None
    created_at: datetime
    delivered_at: datetime | None
    last_error: str | None
    notification_type: str
    title: str
    attempt_log: tuple[Attempt, ...]


@dataclass(frozen=True, slots=True)
class Claim:
    """A delivery to make now: attempt ``attempt`` (its row ``attempt_row``)."""

    delivery_id: str
    attempt_row: int
    attempt: int
    channel: str
    target: str  # the e-mail address, or the endpoint id
    notice: Notice
    customer_name: str
    url: str | None  # webhooks: the endpoint, as it is now (None: deleted since)
    secret: str | None


class UnknownDeliveryError(NotFoundError):
    def __init__(self, delivery_id: str) -> None:
        super().__init__(f"no delivery '{delivery_id}'")


Preferences = Callable[[str], NotificationPreferences]


class DeliveryLedger:
    def __init__(self, engine: Engine, *, clock: Callable[[], datetime] | None = None) -> None:
        self.engine = engine
        self._clock = clock or (lambda: datetime.now(UTC))

    # -- taking notices up -------------------------------------------------------------------

    def raised_not_taken_up(self, since: datetime) -> list[Notice]:
        """Notices raised in real time (``notifications``) since ``since`` that are not in the
        outbox yet."""
        taken = select(notification_outbox.c.notification_id).where(
            notification_outbox.c.notification_id == notifications.c.notification_id
        )
        with read_transaction(self.engine) as db:
            rows = (
                db.execute(
                    select(notifications)
                    .where(notifications.c.raised_at >= since, ~taken.exists())
                    .order_by(notifications.c.raised_at, notifications.c.notification_id)
                )
                .mappings()
                .all()
            )
        return [
            Notice(
                notification_id=row["notification_id"],
                customer_id=row["customer_id"],
                type=row["notification_type"],
                severity=row["severity"],
                title=row["title"],
                message=row["message"],
                feature=row["feature"],
                threshold_percent=row["threshold_percent"],
                window_start=row["window_start"],
                window_end=row["window_end"],
                created_at=row["created_at"],
                raised_at=row["raised_at"],
            )
            for row in rows
        ]

    def not_taken_up(self, notices: Sequence[Notice]) -> list[Notice]:
        with read_transaction(self.engine) as db:
            taken = _taken(db, [n.notification_id for n in notices])
        return [n for n in notices if n.notification_id not in taken]

    def take_up(
        self,
        notices: Iterable[Notice],
        *,
        channels: set[str],
        preferences: Preferences,
        max_age: timedelta,
    ) -> int:
        """Records each notice not taken up yet, with a delivery for every channel target the
        customer has now: e-mail if they turned it on and have an address, each enabled webhook
        endpoint. Notices the customer muted, or older than ``max_age`` (a first run over old
        history), are recorded without deliveries. Returns the number of deliveries created."""
        now = self._clock()
        created = 0
        fresh = self.not_taken_up(list(notices))
        if not fresh:
            return 0
        wanted: dict[str, NotificationPreferences | None] = {}
        with write_transaction(self.engine) as db:
            for notice in fresh:
                inserted = db.execute(
                    _insert_ignore(db, notification_outbox)
                    .values(
                        notification_id=notice.notification_id,
                        customer_id=notice.customer_id,
                        notification_type=notice.type,
                        payload=notice.to_json(),
                        seen_at=now,
                    )
                    .returning(notification_outbox.c.notification_id)
                ).first()
                if inserted is None or now - (notice.raised_at or notice.created_at) > max_age:
                    continue
                customer = notice.customer_id
                if customer not in wanted:
                    try:
                        wanted[customer] = preferences(customer)
                    except NotFoundError:  # a published notice of a customer since removed
                        wanted[customer] = None
                chosen = wanted[customer]
                if chosen is None:
                    continue
                if not chosen.receives(notice.type, notice.threshold_percent):
                    continue
                for channel, target in _targets(db, customer, chosen, channels):
                    db.execute(
                        insert(notification_deliveries).values(
                            delivery_id=make_delivery_id(notice.notification_id, channel, target),
                            notification_id=notice.notification_id,
                            customer_id=customer,
                            channel=channel,
                            target=target,
                            status="pending",
                            attempts=0,
                            next_attempt_at=now,
                            pending_trigger="first",
                            created_at=now,
                            updated_at=now,
                        )
                    )
                    created += 1
        return created

    # -- sending -----------------------------------------------------------------------------

    def claim(
        self,
        *,
        limit: int,
        lease: timedelta,
        busy: Mapping[str, int] | None = None,
        busy_ids: Collection[str] = (),
        per_target: int | None = None,
        busy_customers: Mapping[str, int] | None = None,
        per_customer: int | None = None,
    ) -> list[Claim]:
        """Up to ``limit`` deliveries due now, each moved to ``sending`` with a new attempt row,
        committed before returning. ``busy_ids`` are the caller's deliveries in flight, and
        ``busy`` counts them per target: with ``per_target``, a target already sending that
        many gets no more now, however many of its deliveries are due; likewise per customer
        with ``busy_customers`` and ``per_customer``."""
        now = self._clock()
        sending = Counter(busy or {})
        customers_sending = Counter(busy_customers or {})
        claims: list[Claim] = []
        # Most polls find nothing due: a read answers that without taking SQLite's write lock.
        with read_transaction(self.engine) as db:
            if not _anything_due(db, now):
                return claims
        with write_transaction(self.engine) as db:
            self._recover_expired(db, now, keep=busy_ids)
            # Targets already sending their share are left out in SQL, not skipped here: a
            # slow endpoint's backlog must never fill the rows read and starve the others.
            saturated = (
                [target for target, count in sending.items() if count >= per_target]
                if per_target is not None
                else []
            )
            full = (
                [customer for customer, n in customers_sending.items() if n >= per_customer]
                if per_customer is not None
                else []
            )
            due = (
                select(notification_deliveries, notification_outbox.c.payload)
                .join(
                    notification_outbox,
                    notification_outbox.c.notification_id
                    == notification_deliveries.c.notification_id,
                )
                .where(
                    notification_deliveries.c.status == "pending",
                    notification_deliveries.c.next_attempt_at <= now,
                    notification_deliveries.c.target.not_in(saturated),
                    notification_deliveries.c.customer_id.not_in(full),
                )
                .order_by(
                    notification_deliveries.c.next_attempt_at,
                    notification_deliveries.c.delivery_id,
                )
                .limit(limit * 4 + len(busy_ids))
            )
            if db.dialect.name == "postgresql":
                due = due.with_for_update(skip_locked=True, of=notification_deliveries)
            for row in db.execute(due).mappings().all():
                target = row["target"]
                if row["delivery_id"] in busy_ids or len(claims) >= limit:
                    continue
                if per_target is not None and sending[target] >= per_target:
                    continue
                customer = row["customer_id"]
                if per_customer is not None and customers_sending[customer] >= per_customer:
                    continue
                sending[target] += 1
                customers_sending[customer] += 1
                claims.append(self._claim_one(db, row, now, lease))
        return claims

    def finish(
        self,
        claim: Claim,
        *,
        delivered: bool,
        status_code: int | None,
        error: str | None,
        duration_ms: int,
        retry_at: datetime | None,
    ) -> bool:
        """Records the attempt's outcome; False if the claim was no longer current (its lease
        ran out and another attempt took over), in which case nothing is changed."""
        now = self._clock()
        status = "delivered" if delivered else ("pending" if retry_at is not None else "failed")
        error = None if error is None else error[:ERROR_MAX]
        with write_transaction(self.engine) as db:
            current = db.execute(
                update(notification_deliveries)
                .where(
                    notification_deliveries.c.delivery_id == claim.delivery_id,
                    notification_deliveries.c.status == "sending",
                    notification_deliveries.c.attempts == claim.attempt,
                )
                .values(
                    status=status,
                    next_attempt_at=None if delivered else retry_at,
                    pending_trigger=None if retry_at is None or delivered else "retry",
                    lease_until=None,
                    delivered_at=now if delivered else None,
                    last_error=error,
                    updated_at=now,
                )
            ).rowcount
            if not current:
                return False
            db.execute(
                update(delivery_attempts)
                .where(delivery_attempts.c.id == claim.attempt_row)
                .values(
                    finished_at=now,
                    outcome="delivered" if delivered else "failed",
                    status_code=status_code,
                    error=error,
                    duration_ms=duration_ms,
                )
            )
        return True

    def resend(self, delivery_id: str, *, actor: str, customer_id: str | None = None) -> Delivery:
        """Sends it again as soon as the dispatcher looks (delivered or failed ones alike: a
        person asked); ``customer_id``: only if it is that customer's."""
        now = self._clock()
        with write_transaction(self.engine) as db:
            row = _delivery_row(db, delivery_id, customer_id)
            if row["status"] in {"pending", "sending"}:
                raise ConflictError(
                    f"delivery '{delivery_id}' is {row['status']} already; it is sent "
                    + ("now" if row["status"] == "sending" else "at its next attempt time")
                )
            queued = db.execute(
                update(notification_deliveries)
                .where(
                    notification_deliveries.c.delivery_id == delivery_id,
                    notification_deliveries.c.status == row["status"],
                )
                .values(
                    status="pending", next_attempt_at=now, pending_trigger="resend", updated_at=now
                )
            ).rowcount
            if not queued:  # PostgreSQL: another resend got there first
                raise ConflictError(f"delivery '{delivery_id}' is being resent already")
            audit.record(
                db,
                at=now,
                actor=actor,
                action="delivery.resend",
                entity="delivery",
                entity_id=delivery_id,
                before={"status": row["status"]},
                after={"status": "pending"},
            )
        return self.get(delivery_id)

    # -- reading -------------------------------------------------------------------------------

    def get(self, delivery_id: str, customer_id: str | None = None) -> Delivery:
        with read_transaction(self.engine) as db:
            _delivery_row(db, delivery_id, customer_id)
            return self._deliveries(db, notification_deliveries.c.delivery_id == delivery_id, 1)[0]

    def log(
        self, *, customer_id: str | None = None, status: str | None = None, limit: int = 100
    ) -> list[Delivery]:
        """Deliveries newest first, each with every attempt: what admins (all customers) and
        customers (their own) read."""
        conditions = []
        if customer_id is not None:
            conditions.append(notification_deliveries.c.customer_id == customer_id)
        if status is not None:
            conditions.append(notification_deliveries.c.status == status)
        with read_transaction(self.engine) as db:
            return self._deliveries(db, and_(True, *conditions), limit)

    def counts(self) -> dict[str, int]:
        """Deliveries per status, for health and the admin page."""
        with read_transaction(self.engine) as db:
            rows: Sequence[tuple[str, int]] = db.execute(
                select(notification_deliveries.c.status, func.count()).group_by(
                    notification_deliveries.c.status
                )
            ).all()
        return {str(status): int(count) for status, count in rows}

    # -- helpers -------------------------------------------------------------------------------

    def recover_all(self) -> None:
        """Takes over every attempt left ``sending``: for a dispatcher starting in the one
        process that sends (the ingest API), whatever is ``sending`` belongs to a dead one, so
        its deliveries need not wait for their leases to run out."""
        with write_transaction(self.engine) as db:
            self._recover_expired(db, self._clock(), everything=True)

    def _recover_expired(
        self,
        db: Connection,
        now: datetime,
        *,
        everything: bool = False,
        keep: Collection[str] = (),
    ) -> None:
        """Attempts left ``sending`` past their lease (``everything``: all of them) are marked
        interrupted and their deliveries made due now; ``keep`` are the caller's own attempts
        still running, however long they take. Each change is conditional on the row being as
        read, so an outcome recorded meanwhile (another thread, PostgreSQL) is never undone."""
        d = notification_deliveries.c
        left = d.status == "sending"
        expired = db.execute(
            select(d.delivery_id, d.attempts).where(
                left if everything else left & (d.lease_until < now)
            )
        ).all()
        for delivery_id, attempts in expired:
            if delivery_id in keep:
                continue
            taken = db.execute(
                update(notification_deliveries)
                .where(d.delivery_id == delivery_id, left, d.attempts == attempts)
                .values(
                    status="pending",
                    next_attempt_at=now,
                    pending_trigger="recovery",
                    lease_until=None,
                    updated_at=now,
                )
            ).rowcount
            if not taken:
                continue
            db.execute(
                update(delivery_attempts)
                .where(
                    delivery_attempts.c.delivery_id == delivery_id,
                    delivery_attempts.c.attempt == attempts,
                    delivery_attempts.c.outcome.is_(None),
                )
                .values(
                    finished_at=now,
                    outcome="interrupted",
                    error="the sender stopped before recording an answer",
                )
            )

    def _claim_one(self, db: Connection, row: Any, now: datetime, lease: timedelta) -> Claim:
        attempt = int(row["attempts"]) + 1
        trigger = row["pending_trigger"] or ("first" if attempt == 1 else "retry")
        db.execute(
            update(notification_deliveries)
            .where(notification_deliveries.c.delivery_id == row["delivery_id"])
            .values(
                status="sending",
                attempts=attempt,
                lease_until=now + lease,
                pending_trigger=None,
                updated_at=now,
            )
        )
        attempt_row: int = db.execute(
            insert(delivery_attempts)
            .values(
                delivery_id=row["delivery_id"],
                attempt=attempt,
                trigger=trigger,
                started_at=now,
            )
            .returning(delivery_attempts.c.id)
        ).scalar_one()
        customer_name = db.execute(
            select(customers.c.name).where(customers.c.id == row["customer_id"])
        ).scalar()
        url = secret = None
        if row["channel"] == WEBHOOK:
            endpoint = db.execute(
                select(webhook_endpoints.c.url, webhook_endpoints.c.secret).where(
                    webhook_endpoints.c.endpoint_id == row["target"],
                    webhook_endpoints.c.enabled,
                )
            ).first()
            if endpoint is not None:
                url, secret = str(endpoint.url), str(endpoint.secret)
        return Claim(
            delivery_id=row["delivery_id"],
            attempt_row=int(attempt_row),
            attempt=attempt,
            channel=row["channel"],
            target=row["target"],
            notice=Notice.from_json(dict(row["payload"])),
            customer_name=str(customer_name or row["customer_id"]),
            url=url,
            secret=secret,
        )

    def _deliveries(self, db: Connection, condition: Any, limit: int) -> list[Delivery]:
        rows = (
            db.execute(
                select(
                    notification_deliveries,
                    notification_outbox.c.notification_type,
                    notification_outbox.c.payload,
                )
                .join(
                    notification_outbox,
                    notification_outbox.c.notification_id
                    == notification_deliveries.c.notification_id,
                )
                .where(condition)
                .order_by(
                    notification_deliveries.c.created_at.desc(),
                    notification_deliveries.c.delivery_id,
                )
                .limit(limit)
            )
            .mappings()
            .all()
        )
        ids = [row["delivery_id"] for row in rows]
        attempts: dict[str, list[Attempt]] = {}
        for chunk in _chunks(ids):
            for a in (
                db.execute(
                    select(delivery_attempts)
                    .where(delivery_attempts.c.delivery_id.in_(chunk))
                    .order_by(delivery_attempts.c.delivery_id, delivery_attempts.c.attempt)
                )
                .mappings()
                .all()
            ):
                attempts.setdefault(a["delivery_id"], []).append(
                    Attempt(
                        attempt=a["attempt"],
                        trigger=a["trigger"],
                        started_at=a["started_at"],
                        finished_at=a["finished_at"],
                        outcome=a["outcome"],
                        status_code=a["status_code"],
                        error=a["error"],
                        duration_ms=a["duration_ms"],
                    )
                )
        return [
            Delivery(
                delivery_id=row["delivery_id"],
                notification_id=row["notification_id"],
                customer_id=row["customer_id"],
                channel=row["channel"],
                target=row["target"],
                status=row["status"],
                attempts=row["attempts"],
                next_attempt_at=row["next_attempt_at"],
                created_at=row["created_at"],
                delivered_at=row["delivered_at"],
                last_error=row["last_error"],
                notification_type=row["notification_type"],
                title=str(dict(row["payload"]).get("title", "")),
                attempt_log=tuple(attempts.get(row["delivery_id"], [])),
            )
            for row in rows
        ]


def _targets(
    db: Connection, customer_id: str, chosen: NotificationPreferences, channels: set[str]
) -> list[tuple[str, str]]:
    targets: list[tuple[str, str]] = []
    if EMAIL in channels and chosen.email_enabled:
        address = db.execute(
            select(customers.c.email).where(customers.c.id == customer_id)
        ).scalar()
        if address:
            targets.append((EMAIL, str(address)))
    if WEBHOOK in channels:
        endpoints: Iterable[str] = db.execute(
            select(webhook_endpoints.c.endpoint_id)
            .where(webhook_endpoints.c.customer_id == customer_id, webhook_endpoints.c.enabled)
            .order_by(webhook_endpoints.c.endpoint_id)
        ).scalars()
        targets.extend((WEBHOOK, str(endpoint)) for endpoint in endpoints)
    return targets


def _anything_due(db: Connection, now: datetime) -> bool:
    d = notification_deliveries.c
    due = ((d.status == "pending") & (d.next_attempt_at <= now)) | (
        (d.status == "sending") & (d.lease_until < now)
    )
    return db.execute(select(d.delivery_id).where(due).limit(1)).first() is not None


def _taken(db: Connection, ids: Sequence[str]) -> set[str]:
    taken: set[str] = set()
    for chunk in _chunks(list(ids)):
        taken.update(
            db.execute(
                select(notification_outbox.c.notification_id).where(
                    notification_outbox.c.notification_id.in_(chunk)
                )
            ).scalars()
        )
    return taken


def _delivery_row(db: Connection, delivery_id: str, customer_id: str | None) -> Any:
    condition = notification_deliveries.c.delivery_id == delivery_id
    if customer_id is not None:
        condition = condition & (notification_deliveries.c.customer_id == customer_id)
    row = db.execute(select(notification_deliveries).where(condition)).mappings().first()
    if row is None:
        raise UnknownDeliveryError(delivery_id)
    return row


def _insert_ignore(db: Connection, table: Any) -> Any:
    dialect = postgresql if db.dialect.name == "postgresql" else sqlite
    return dialect.insert(table).on_conflict_do_nothing()


def _chunks(ids: list[str]) -> Iterable[list[str]]:
    for start in range(0, len(ids), _CHUNK):
        yield ids[start : start + _CHUNK]
