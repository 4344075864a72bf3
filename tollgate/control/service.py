"""The control plane's operations: what the billing API, the pipeline, Stripe sync and the CLI call.

Each change is one transaction that also writes its audit row (actor, before, after), so the
log and the state can never disagree. Plans come from the catalogue passed in, never from the
database: the database stores plan names, the catalogue says what they mean. Money follows
``tollgate.billing.proration`` and is stored as it computed it, so invoices re-run identically.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    RowMapping,
    Table,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from tollgate.billing.catalogue import Catalogue, Plan, UnknownPlanError
from tollgate.billing.catalogue.model import CycleAnchor, Enforcement
from tollgate.billing.cycles import CycleRule
from tollgate.billing.proration import prorate_change, stretch_amount
from tollgate.control import audit, spend, validation
from tollgate.control.database import read_transaction, write_transaction
from tollgate.control.errors import (
    ConflictError,
    InvalidValueError,
    UnknownCustomerError,
    UnknownFeatureError,
    UnknownPlanNameError,
    UnknownSubscriptionError,
)
from tollgate.control.models import (
    NOTIFICATION_TYPES,
    ActivePlan,
    Customer,
    EffectiveLimit,
    EffectiveLimits,
    InvoicePayment,
    LimitOverride,
    NotificationPreferences,
    PlanChange,
    PlanChangePreview,
    PlanPeriod,
    RaisedNotification,
    SpendThresholds,
    Subscription,
    When,
)
from tollgate.control.schema import (
    customers,
    invoice_payments,
    limit_overrides,
    notification_preferences,
    notification_reads,
    notifications,
    plan_changes,
    subscription_plans,
    subscriptions,
)

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class ControlService:
    """Operations on one control database, on behalf of ``actor`` (recorded in the audit log)."""

    def __init__(
        self, engine: Engine, catalogue: Catalogue, *, actor: str, clock: Clock = utc_now
    ) -> None:
        if not actor.strip():
            raise InvalidValueError("an actor is required: who is making these changes?")
        self.engine = engine
        self.catalogue = catalogue
        self.actor = actor
        self._clock = clock
        # Set by ``within``: every operation runs inside the caller's transaction on it.
        self._connection: Connection | None = None

    def within(self, connection: Connection, *, actor: str | None = None) -> ControlService:
        """This service's operations as parts of the caller's open write transaction.

        Nothing commits when an operation returns: the caller's transaction commits them all
        (and their audit rows) together, or rolls them all back, so a change can be made atomic
        with the caller's own writes (the Stripe webhook records an event id and what it did
        at once). Refusals still raise, before anything of theirs is written.
        """
        bound = ControlService(self.engine, self.catalogue, actor=actor or self.actor)
        bound._clock = self._clock
        bound._connection = connection
        return bound

    # -- customers ---------------------------------------------------------------------------

    def create_customer(
        self,
        customer_id: str,
        *,
        name: str,
        email: str | None = None,
        timezone: str = "UTC",
        currency: str = "usd",
    ) -> Customer:
        now = self._clock()
        row = {
            "id": validation.customer_id(customer_id),
            "name": validation.name(name),
            "email": validation.email(email),
            "timezone": validation.timezone(timezone),
            "currency": validation.currency(currency),
            "created_at": now,
            "updated_at": now,
            "stripe_customer_id": None,
        }
        with self._write() as db:
            existing = _customer_row(db, customer_id)
            if existing is not None:
                raise _customer_exists(existing)
            try:
                db.execute(insert(customers).values(row))
            except IntegrityError:  # created by someone else since the check above
                raise _customer_exists(row) from None
            self._audit(db, "customer.create", "customer", customer_id, None, row)
        return _customer(row)

    def update_customer(
        self,
        customer_id: str,
        *,
        name: str | None = None,
        email: str | None = None,
        timezone: str | None = None,
        currency: str | None = None,
        stripe_customer_id: str | None = None,
    ) -> Customer:
        """Changes the fields given (None leaves a field as it is)."""
        changes: dict[str, object] = {}
        if name is not None:
            changes["name"] = validation.name(name)
        if email is not None:
            changes["email"] = validation.email(email)
        if timezone is not None:
            changes["timezone"] = validation.timezone(timezone)
        if currency is not None:
            changes["currency"] = validation.currency(currency)
        if stripe_customer_id is not None:
            changes["stripe_customer_id"] = stripe_customer_id
        with self._write() as db:
            before = self._lock_customer(db, customer_id)
            # Both define invoices already computed (amounts, cycle boundaries, stored
            # prorations); changing them under existing subscriptions would rewrite history.
            for field, hint in (
                ("currency", "create a new customer for another currency"),
                ("timezone", "cycles and stored prorations were computed on its wall clock"),
            ):
                if field in changes and changes[field] != before[field]:
                    subscribed = db.execute(
                        select(subscriptions.c.id).where(subscriptions.c.customer_id == customer_id)
                    ).first()
                    if subscribed is not None:
                        raise ConflictError(
                            f"customer '{customer_id}' has subscriptions, so its {field} "
                            f"cannot change (it is {before[field]}): {hint}"
                        )
            if not changes:
                return _customer(before)
            changes["updated_at"] = self._clock()
            db.execute(update(customers).where(customers.c.id == customer_id).values(changes))
            after = {**before, **changes}
            self._audit(db, "customer.update", "customer", customer_id, before, after)
        return _customer(after)

    def get_customer(self, customer_id: str) -> Customer:
        with self._read() as db:
            row = _customer_row(db, customer_id)
        if row is None:
            raise UnknownCustomerError(customer_id)
        return _customer(row)

    def list_customers(self) -> list[Customer]:
        with self._read() as db:
            rows = db.execute(select(customers).order_by(customers.c.id)).mappings().all()
        return [_customer(row) for row in rows]

    # -- subscriptions -------------------------------------------------------------------------

    def subscribe(
        self,
        customer_id: str,
        plan: str,
        *,
        at: datetime | None = None,
        anchoring: CycleAnchor | None = None,
    ) -> Subscription:
        """Starts ``plan`` for the customer at ``at`` (default now); one subscription at a time."""
        at = self._moment(at, "start time")
        chosen = self._plan(plan)
        with self._write() as db:
            customer = self._lock_customer(db, customer_id)
            _check_currency(customer, plan, chosen)
            overlapping = db.execute(
                select(subscriptions)
                .where(subscriptions.c.customer_id == customer_id)
                .order_by(subscriptions.c.started_at)
            ).mappings()
            for existing in map(_subscription, overlapping):
                end = existing.ends_at
                if end is None or end > at:
                    until = f"until {end.isoformat()}" if end else "with no end"
                    raise ConflictError(
                        f"customer '{customer_id}' already has subscription '{existing.id}' "
                        f"(from {existing.started_at.isoformat()} {until}); change its plan "
                        "with 'tollgate subscriptions change' or cancel it first"
                    )
            row = {
                "id": f"sub_{secrets.token_hex(8)}",
                "customer_id": customer_id,
                "status": "active",
                "started_at": at,
                "billing_anchor": at,
                "anchoring": anchoring.value if anchoring else None,
                "cancel_at": None,
                "ended_at": None,
                "created_at": self._clock(),
            }
            db.execute(insert(subscriptions).values(row))
            db.execute(
                insert(subscription_plans).values(
                    subscription_id=row["id"], plan=plan, effective_from=at, effective_to=None
                )
            )
            after = _subscription_state(db, str(row["id"]))
            self._audit(db, "subscription.create", "subscription", str(row["id"]), None, after)
        return _subscription(row)

    def change_plan(
        self,
        subscription_id: str,
        new_plan: str,
        *,
        at: datetime | None = None,
        when: When | None = None,
    ) -> PlanChange:
        """Moves the subscription to ``new_plan``.

        ``when=None`` upgrades (new base price >= old) now, with the unused part of the old
        base price credited and the rest of the cycle on the new one charged; downgrades take
        effect at the end of the current period, with nothing to prorate. A change scheduled
        earlier and not yet in effect is replaced.
        """
        at = self._moment(at, "change time")
        with self._write() as db:
            plan = self._plan_change(db, subscription_id, new_plan, at, when, lock=True)
            before = _subscription_state(db, subscription_id)
            # A scheduled cancellation stays: the new plan runs until it.
            self._drop_pending_changes(db, subscription_id, after=at, keep_cancellation=True)
            self._switch_plan(db, plan.subscription, new_plan, plan.effective_at)
            change = self._record_change(
                db,
                subscription_id,
                plan.from_plan,
                new_plan,
                plan.effective_at,
                plan.timing,
                plan.credit,
                plan.charge,
                plan.currency,
            )
            after = _subscription_state(db, subscription_id)
            self._audit(
                db,
                "subscription.change_plan",
                "subscription",
                subscription_id,
                before,
                {**after, "change": _change_state(change)},
            )
        return change

    def preview_change_plan(
        self,
        subscription_id: str,
        new_plan: str,
        *,
        at: datetime | None = None,
        when: When | None = None,
    ) -> PlanChangePreview:
        """What ``change_plan`` with the same arguments would do and charge, recording nothing:
        the same refusals, timing and proration (the billing API's ``/prorate``)."""
        at = self._moment(at, "change time")
        with self._read() as db:
            return self._plan_change(db, subscription_id, new_plan, at, when, lock=False)

    def cancel(
        self, subscription_id: str, *, at_period_end: bool, at: datetime | None = None
    ) -> Subscription:
        """Ends the subscription now (crediting the unused base price) or at period end."""
        at = self._moment(at, "cancellation time")
        with self._write() as db:
            subscription, customer = self._lock_subscription(db, subscription_id)
            self._require_active(subscription, at)
            self._require_in_order(db, subscription, at)
            before = _subscription_state(db, subscription_id)
            plan_name = _plan_row_at(db, subscription_id, at)["plan"]
            plan = self._plan(plan_name)
            cycle = self._cycle_rule(subscription, customer, plan).cycle_at(at)
            values: dict[str, object]
            if at_period_end:
                if subscription.cancel_at is not None:
                    raise ConflictError(
                        f"subscription '{subscription_id}' is already set to end at "
                        f"{subscription.cancel_at.isoformat()}"
                    )
                end, credit, values = cycle.end, 0, {"cancel_at": cycle.end}
                timing = When.PERIOD_END
            else:
                end = at
                credit = -stretch_amount(plan.base_price, cycle, at, cycle.end)
                values = {"status": "canceled", "ended_at": at, "cancel_at": None}
                timing = When.NOW
            self._drop_pending_changes(db, subscription_id, after=at, keep_cancellation=False)
            db.execute(
                update(subscriptions).where(subscriptions.c.id == subscription_id).values(values)
            )
            _end_plan_rows(db, subscription_id, end)
            self._record_change(
                db, subscription_id, plan_name, None, end, timing, credit, 0, customer["currency"]
            )
            after = _subscription_state(db, subscription_id)
            self._audit(db, "subscription.cancel", "subscription", subscription_id, before, after)
            row = (
                db.execute(select(subscriptions).where(subscriptions.c.id == subscription_id))
                .mappings()
                .one()
            )
        return _subscription(row)

    def get_subscription(self, subscription_id: str) -> Subscription:
        with self._read() as db:
            row = _subscription_row(db, subscription_id)
        if row is None:
            raise UnknownSubscriptionError(subscription_id)
        return _subscription(row)

    def list_subscriptions(self, customer_id: str | None = None) -> list[Subscription]:
        query = select(subscriptions).order_by(
            subscriptions.c.customer_id, subscriptions.c.started_at
        )
        with self._read() as db:
            if customer_id is not None:
                if _customer_row(db, customer_id) is None:
                    raise UnknownCustomerError(customer_id)
                query = query.where(subscriptions.c.customer_id == customer_id)
            rows = db.execute(query).mappings().all()
        return [_subscription(row) for row in rows]

    def active_plan(self, customer_id: str, at: datetime | None = None) -> ActivePlan | None:
        """The customer's subscription, plan and billing cycle at ``at`` (default now)."""
        at = self._moment(at, "time")
        with self._read() as db:
            return self._active_plan(db, customer_id, at)

    def plan_at(self, subscription_id: str, at: datetime | None = None) -> str | None:
        """The plan in effect at ``at`` (default now); None before the start or after the end."""
        at = self._moment(at, "time")
        with self._read() as db:
            row = _subscription_row(db, subscription_id)
            if row is None:
                raise UnknownSubscriptionError(subscription_id)
            if not _subscription(row).active_at(at):
                return None
            return str(_plan_row_at(db, subscription_id, at)["plan"])

    def plan_history(self, subscription_id: str) -> list[PlanPeriod]:
        """Every plan period, oldest first; a period starting in the future is scheduled."""
        with self._read() as db:
            if _subscription_row(db, subscription_id) is None:
                raise UnknownSubscriptionError(subscription_id)
            return [PlanPeriod(**row) for row in _plan_rows(db, subscription_id)]

    def plan_changes(self, subscription_id: str) -> list[PlanChange]:
        with self._read() as db:
            if _subscription_row(db, subscription_id) is None:
                raise UnknownSubscriptionError(subscription_id)
            rows = db.execute(
                select(plan_changes)
                .where(plan_changes.c.subscription_id == subscription_id)
                .order_by(plan_changes.c.at, plan_changes.c.id)
            ).mappings()
            return [_change(row) for row in rows]

    # -- limits --------------------------------------------------------------------------------

    def set_limit(
        self,
        customer_id: str,
        feature: str,
        value: Decimal | int | str | None,
        enforcement: Enforcement | None = None,
    ) -> LimitOverride:
        """Overrides one feature's limit for the customer; ``value=None`` is unlimited.

        ``enforcement=None`` keeps what the customer's current plan says for the feature
        (hard if the plan has no limit for it).
        """
        self._feature(feature)
        number = None if value is None else validation.limit_value(value)
        now = self._clock()
        with self._write() as db:
            self._lock_customer(db, customer_id)
            if number is None:
                enforcement = None
            elif enforcement is None:
                enforcement = self._plan_enforcement(db, customer_id, feature, now)
            before = _overrides(db, customer_id, [feature])
            row = {
                "customer_id": customer_id,
                "feature": feature,
                "value": number,
                "enforcement": enforcement.value if enforcement else None,
                "updated_at": now,
            }
            _delete_overrides(db, customer_id, [feature])
            db.execute(insert(limit_overrides).values(row))
            self._audit(db, "limits.set", "limits", customer_id, before, {feature: row})
        return _override(row)

    def clear_limit(self, customer_id: str, feature: str) -> None:
        """Drops one feature's override, so the customer's plan decides it again."""
        self._feature(feature)
        with self._write() as db:
            self._lock_customer(db, customer_id)
            before = _overrides(db, customer_id, [feature])
            if not before:
                raise ConflictError(
                    f"customer '{customer_id}' has no override for '{feature}'; "
                    "see 'tollgate limits show'"
                )
            _delete_overrides(db, customer_id, [feature])
            self._audit(db, "limits.clear", "limits", customer_id, before, {})

    def set_limits_from_plan(
        self, customer_id: str, plan: str | None = None
    ) -> list[LimitOverride]:
        """Replaces the customer's overrides.

        ``plan=None`` drops them all, so the customer follows their current plan's limits
        (and any later plan's). A plan name copies that plan's limits (the features it lists)
        as overrides, which then stay when the customer changes plans.
        """
        source = None if plan is None else self._plan(plan)
        now = self._clock()
        with self._write() as db:
            self._lock_customer(db, customer_id)
            before = _overrides(db, customer_id)
            _delete_overrides(db, customer_id)
            rows = [
                {
                    "customer_id": customer_id,
                    "feature": feature,
                    "value": spec.limit.value if spec.limit else None,
                    "enforcement": spec.limit.enforcement.value if spec.limit else None,
                    "updated_at": now,
                }
                for feature, spec in sorted((source.features if source else {}).items())
            ]
            if rows:
                db.execute(insert(limit_overrides), rows)
            action = "limits.reset" if plan is None else "limits.copy_from_plan"
            after = {str(row["feature"]): row for row in rows}
            self._audit(
                db, action, "limits", customer_id, before, {"plan": plan, "overrides": after}
            )
        return [_override(row) for row in rows]

    def limit_overrides(self, customer_id: str) -> list[LimitOverride]:
        with self._read() as db:
            if _customer_row(db, customer_id) is None:
                raise UnknownCustomerError(customer_id)
            return [_override(row) for row in _override_rows(db, customer_id)]

    def effective_limits(self, customer_id: str, at: datetime | None = None) -> EffectiveLimits:
        """The plan's limits at ``at`` (default now), with the customer's overrides on top.

        Overrides are current state, not history: they apply at any moment asked about.
        """
        at = self._moment(at, "time")
        with self._read() as db:
            active = self._active_plan(db, customer_id, at)
            overrides = _override_rows(db, customer_id)
        return _effective_limits(customer_id, active, overrides)

    def current_terms(
        self, at: datetime, customer_ids: Collection[str] | None = None
    ) -> dict[str, tuple[ActivePlan | None, EffectiveLimits]]:
        """``active_plan`` and ``effective_limits`` at ``at`` for many customers (all by
        default) in one read transaction of four queries; unknown ids are left out."""
        at = self._moment(at, "time")
        with self._read() as db:
            customer_rows = _rows_for(db, customers, customers.c.id, customer_ids)
            subscription_rows = _rows_for(
                db, subscriptions, subscriptions.c.customer_id, customer_ids
            )
            plans_query = select(subscription_plans).order_by(
                subscription_plans.c.effective_from, subscription_plans.c.id
            )
            if customer_ids is not None:
                # A few customers' plans, not every subscription's (the dashboards ask for one).
                plans_query = plans_query.where(
                    subscription_plans.c.subscription_id.in_([r["id"] for r in subscription_rows])
                )
            plan_rows = list(db.execute(plans_query).mappings())
            override_rows = _rows_for(
                db, limit_overrides, limit_overrides.c.customer_id, customer_ids
            )
        plans_by_subscription: dict[str, list[RowMapping]] = {}
        for row in plan_rows:
            plans_by_subscription.setdefault(row["subscription_id"], []).append(row)
        subscriptions_by_customer: dict[str, list[RowMapping]] = {}
        for row in subscription_rows:
            subscriptions_by_customer.setdefault(row["customer_id"], []).append(row)
        overrides_by_customer: dict[str, list[RowMapping]] = {}
        for row in sorted(override_rows, key=lambda r: r["feature"]):
            overrides_by_customer.setdefault(row["customer_id"], []).append(row)
        terms = {}
        for customer in customer_rows:
            customer_id = customer["id"]
            active = self._pick_active(
                customer,
                subscriptions_by_customer.get(customer_id, []),
                plans_by_subscription,
                at,
            )
            overrides = overrides_by_customer.get(customer_id, [])
            terms[customer_id] = (active, _effective_limits(customer_id, active, overrides))
        return terms

    # -- notifications -------------------------------------------------------------------------

    def mark_notification_read(
        self, customer_id: str, notification_id: str, *, at: datetime | None = None
    ) -> datetime:
        """Records that the customer read a notification; reading it again changes nothing."""
        validation.notification_id(notification_id)
        at = self._moment(at, "read time")
        with self._write() as db:
            self._lock_customer(db, customer_id)
            key = (notification_reads.c.customer_id == customer_id) & (
                notification_reads.c.notification_id == notification_id
            )
            existing = db.execute(select(notification_reads).where(key)).mappings().first()
            if existing is not None:
                read_at: datetime = existing["read_at"]
                return read_at
            row = {"customer_id": customer_id, "notification_id": notification_id, "read_at": at}
            db.execute(insert(notification_reads).values(row))
            self._audit(
                db,
                "notification.read",
                "notification",
                f"{customer_id}/{notification_id}",
                None,
                row,
            )
        return at

    def raise_notification(self, notification: RaisedNotification) -> bool:
        """Records a notice raised in real time, once per id: False if it was recorded already
        (by this process before a restart, or by another), True if this call recorded it."""
        validation.notification_id(notification.notification_id)
        row = {
            field: getattr(notification, field) for field in RaisedNotification.__dataclass_fields__
        }
        key = notifications.c.notification_id == notification.notification_id
        with self._write() as db:
            self._lock_customer(db, notification.customer_id)
            if db.execute(select(notifications.c.notification_id).where(key)).first():
                return False
            try:
                # A savepoint, so that losing the race leaves a caller's transaction usable
                # (PostgreSQL aborts a whole transaction on a failed statement).
                with db.begin_nested():
                    db.execute(insert(notifications).values(row))
            except IntegrityError:  # recorded by someone else since the check above
                return False
            self._audit(
                db,
                "notification.raise",
                "notification",
                f"{notification.customer_id}/{notification.notification_id}",
                None,
                row,
            )
        return True

    def raised_notifications(self, customer_id: str) -> list[RaisedNotification]:
        """The notices raised in real time for the customer, oldest first."""
        order = (notifications.c.created_at, notifications.c.notification_id)
        with self._read() as db:
            rows = _rows_of_customer(db, notifications, customer_id, order)
        return [RaisedNotification(**row) for row in rows]

    def read_notifications(self, customer_id: str) -> dict[str, datetime]:
        with self._read() as db:
            if _customer_row(db, customer_id) is None:
                raise UnknownCustomerError(customer_id)
            rows: Sequence[tuple[str, datetime]] = db.execute(
                select(notification_reads.c.notification_id, notification_reads.c.read_at)
                .where(notification_reads.c.customer_id == customer_id)
                .order_by(notification_reads.c.notification_id)
            ).all()
        return {str(notification): read_at for notification, read_at in rows}

    def notification_preferences(self, customer_id: str) -> NotificationPreferences:
        """Which notices the customer receives: every one, until they choose otherwise."""
        with self._read() as db:
            if _customer_row(db, customer_id) is None:
                raise UnknownCustomerError(customer_id)
            row = _preferences_row(db, customer_id)
        return self._preferences(customer_id, row)

    def set_notification_preferences(
        self,
        customer_id: str,
        *,
        types: Mapping[str, bool] | None = None,
        thresholds: Collection[int] | None = None,
        email: bool | None = None,
    ) -> NotificationPreferences:
        """Replaces which notices the customer receives.

        ``types`` turns notification types on (True) or off (False); types it does not name
        are on. ``thresholds`` are the catalogue's alert thresholds (percent of a limit) to
        hear about; None: all of them. Muted notices are still derived and raised as always,
        only not shown to the customer. ``email``: also deliver the received notices by
        e-mail to the customer's address (None: keep as it is).
        """
        muted_types = _muted_types(types or {})
        muted_thresholds = self._muted_thresholds(thresholds)
        if email is not None and not isinstance(email, bool):
            raise InvalidValueError(f"email must be true or false, not {email!r}")
        with self._write() as db:
            customer = self._lock_customer(db, customer_id)
            existing = _preferences_row(db, customer_id)
            before = None if existing is None else dict(existing)
            was_email = bool(existing["email_enabled"]) if existing is not None else False
            email_enabled = was_email if email is None else email
            if email_enabled and not was_email and not customer["email"]:
                raise InvalidValueError(
                    f"customer '{customer_id}' has no e-mail address, so notices cannot be "
                    "e-mailed; set one first (tollgate customers update --email ...)"
                )
            unchanged = (muted_types, muted_thresholds, email_enabled) == (
                (
                    list(existing["muted_types"]),
                    list(existing["muted_thresholds"]),
                    was_email,
                )
                if existing is not None
                else ([], [], False)
            )
            if unchanged:
                return self._preferences(customer_id, existing)
            row = {
                "customer_id": customer_id,
                "muted_types": muted_types,
                "muted_thresholds": muted_thresholds,
                "email_enabled": email_enabled,
                "updated_at": self._clock(),
            }
            key = notification_preferences.c.customer_id == customer_id
            if existing is None:
                db.execute(insert(notification_preferences).values(row))
            else:
                db.execute(update(notification_preferences).where(key).values(row))
            self._audit(
                db,
                "notification_preferences.set",
                "notification_preferences",
                customer_id,
                before,
                row,
            )
        return self._preferences(customer_id, row)

    # -- spend alerts and budget (tollgate/control/spend.py; enforced by tollgate.limits.spend) --

    def spend_thresholds(self, customer_id: str) -> SpendThresholds:
        """The customer's alerts on the cycle's cost and budget (none until set)."""
        with self._read() as db:
            row = _customer_row(db, customer_id)
            if row is None:
                raise UnknownCustomerError(customer_id)
            found = spend.read(db, [customer_id]).get(customer_id)
        return found or spend.of_rows(customer_id, str(row["currency"]), [])

    def spend_thresholds_of(
        self, customer_ids: Collection[str] | None
    ) -> dict[str, SpendThresholds]:
        """Every customer's thresholds that has any (of ``customer_ids``; None: all), at once."""
        with self._read() as db:
            return spend.read(db, customer_ids)

    def set_spend_thresholds(
        self, customer_id: str, *, alerts: Collection[int], budget: int | None
    ) -> SpendThresholds:
        """Replaces the customer's spend alerts and budget (minor units of its currency)."""
        wanted, budget = spend.checked(alerts, budget)
        with self._write() as db:
            customer = self._lock_customer(db, customer_id)
            currency = str(customer["currency"])
            before = spend.read(db, [customer_id]).get(customer_id)
            if before is not None and (before.alerts, before.budget) == (wanted, budget):
                return before
            rows = spend.replace(db, customer_id, currency, wanted, budget, self._clock())
            after = spend.of_rows(customer_id, currency, rows)
            self._audit(
                db,
                "spend_thresholds.set",
                "spend_thresholds",
                customer_id,
                None if before is None else spend.audit_state(before),
                spend.audit_state(after),
            )
        return after

    # -- Stripe's view (what its webhooks report) -------------------------------------------------

    def customer_by_stripe_id(
        self, stripe_customer_id: str, *, lock: bool = False
    ) -> Customer | None:
        """The customer linked to this Stripe customer, if any. ``lock``: also lock its row
        for the rest of the caller's transaction (``within``), as every change does."""
        query = select(customers).where(customers.c.stripe_customer_id == stripe_customer_id)
        with self._read() if not lock else self._write() as db:
            row = db.execute(query.with_for_update() if lock else query).mappings().first()
        return None if row is None else _customer(row)

    def set_stripe_status(self, subscription_id: str, stripe_status: str) -> Subscription:
        """Records Stripe's status of the subscription (active, past_due, canceled ...)."""
        with self._write() as db:
            subscription, _ = self._lock_subscription(db, subscription_id)
            if subscription.stripe_status == stripe_status:
                return subscription
            before = _subscription_state(db, subscription_id)
            db.execute(
                update(subscriptions)
                .where(subscriptions.c.id == subscription_id)
                .values(stripe_status=stripe_status)
            )
            after = _subscription_state(db, subscription_id)
            self._audit(
                db, "subscription.stripe_status", "subscription", subscription_id, before, after
            )
        return replace(subscription, stripe_status=stripe_status)

    def record_invoice_payment(self, payment: InvoicePayment) -> None:
        """Stores (or replaces) what Stripe last reported about paying one of its invoices."""
        row = {field: getattr(payment, field) for field in InvoicePayment.__dataclass_fields__}
        key = invoice_payments.c.stripe_invoice_id == payment.stripe_invoice_id
        with self._write() as db:
            self._lock_customer(db, payment.customer_id)
            existing = db.execute(select(invoice_payments).where(key)).mappings().first()
            if existing is None:
                db.execute(insert(invoice_payments).values(row))
            else:
                db.execute(update(invoice_payments).where(key).values(row))
            self._audit(
                db,
                "invoice_payment.record",
                "invoice_payment",
                payment.stripe_invoice_id,
                None if existing is None else dict(existing),
                row,
            )

    def invoice_payment(self, stripe_invoice_id: str) -> InvoicePayment | None:
        key = invoice_payments.c.stripe_invoice_id == stripe_invoice_id
        with self._read() as db:
            row = db.execute(select(invoice_payments).where(key)).mappings().first()
        return None if row is None else InvoicePayment(**row)

    def invoice_payments(self, customer_id: str) -> list[InvoicePayment]:
        """The customer's Stripe invoice payments, by period (oldest first)."""
        order = (invoice_payments.c.period_start, invoice_payments.c.stripe_invoice_id)
        with self._read() as db:
            rows = _rows_of_customer(db, invoice_payments, customer_id, order)
        return [InvoicePayment(**row) for row in rows]

    # -- audit ---------------------------------------------------------------------------------

    def audit_entries(
        self, *, entity: str | None = None, entity_id: str | None = None, limit: int = 50
    ) -> list[audit.AuditEntry]:
        with self._read() as db:
            return audit.entries(db, entity=entity, entity_id=entity_id, limit=limit)

    # -- helpers -------------------------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        if self._connection is not None:
            yield self._connection
        else:
            with write_transaction(self.engine) as db:
                yield db

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        # Bound: read in the caller's transaction, so what it wrote so far is seen.
        if self._connection is not None:
            yield self._connection
        else:
            with read_transaction(self.engine) as db:
                yield db

    def _audit(
        self,
        db: Connection,
        action: str,
        entity: str,
        entity_id: str,
        before: Mapping[Any, Any] | None,
        after: Mapping[Any, Any] | None,
    ) -> None:
        audit.record(
            db,
            at=self._clock(),
            actor=self.actor,
            action=action,
            entity=entity,
            entity_id=entity_id,
            before=before,
            after=after,
        )

    def _moment(self, at: datetime | None, what: str) -> datetime:
        return self._clock() if at is None else validation.moment(at, what)

    def _plan(self, name: str) -> Plan:
        try:
            return self.catalogue.plan(name)
        except UnknownPlanError:
            raise UnknownPlanNameError(name, sorted(self.catalogue.plans)) from None

    def _muted_thresholds(self, wanted: Collection[int] | None) -> list[int]:
        """The catalogue's threshold percents not in ``wanted`` (None: all wanted)."""
        offered = [threshold.percent for threshold in self.catalogue.alert_thresholds]
        if wanted is None:
            return []
        for percent in wanted:
            if isinstance(percent, bool) or percent not in offered:
                raise InvalidValueError(
                    f"{percent!r} is not one of the alert thresholds; choose among "
                    f"{', '.join(map(str, offered))} (percent of a limit, as the plan "
                    "catalogue sets them)"
                )
        return [percent for percent in offered if percent not in set(wanted)]

    def _preferences(
        self, customer_id: str, row: Mapping[Any, Any] | None
    ) -> NotificationPreferences:
        muted_types = set(row["muted_types"]) if row is not None else set()
        muted = tuple(sorted(row["muted_thresholds"])) if row is not None else ()
        return NotificationPreferences(
            customer_id=customer_id,
            types={kind: kind not in muted_types for kind in NOTIFICATION_TYPES},
            thresholds=tuple(
                threshold.percent
                for threshold in self.catalogue.alert_thresholds
                if threshold.percent not in muted
            ),
            muted_thresholds=muted,
            updated_at=None if row is None else row["updated_at"],
            email_enabled=bool(row["email_enabled"]) if row is not None else False,
        )

    def _feature(self, feature: str) -> None:
        if feature not in self.catalogue.features:
            raise UnknownFeatureError(feature, sorted(self.catalogue.features))

    def _lock_customer(self, db: Connection, customer_id: str) -> RowMapping:
        # FOR UPDATE serialises changes to one customer on PostgreSQL (SQLite's writers are
        # serialised already by BEGIN IMMEDIATE), so two "subscribe" calls cannot both pass
        # the one-subscription check.
        row = (
            db.execute(select(customers).where(customers.c.id == customer_id).with_for_update())
            .mappings()
            .first()
        )
        if row is None:
            raise UnknownCustomerError(customer_id)
        return row

    def _lock_subscription(
        self, db: Connection, subscription_id: str
    ) -> tuple[Subscription, RowMapping]:
        row = _subscription_row(db, subscription_id)
        if row is None:
            raise UnknownSubscriptionError(subscription_id)
        customer = self._lock_customer(db, row["customer_id"])
        # Re-read under the customer's lock: it may have changed while we waited.
        return _subscription(_subscription_row(db, subscription_id) or row), customer

    @staticmethod
    def _require_active(subscription: Subscription, at: datetime) -> None:
        if at < subscription.started_at:
            raise ConflictError(
                f"subscription '{subscription.id}' starts at "
                f"{subscription.started_at.isoformat()}, after {at.isoformat()}"
            )
        if subscription.ended_at is not None and at >= subscription.ended_at:
            raise ConflictError(
                f"subscription '{subscription.id}' was canceled at "
                f"{subscription.ended_at.isoformat()}; subscribe the customer again instead"
            )
        if subscription.cancel_at is not None and at >= subscription.cancel_at:
            raise ConflictError(
                f"subscription '{subscription.id}' ended at "
                f"{subscription.cancel_at.isoformat()} (canceled at period end); subscribe "
                "the customer again instead"
            )

    def _require_in_order(self, db: Connection, subscription: Subscription, at: datetime) -> None:
        """Changes are recorded in time order: none may go before one already in effect."""
        now = self._clock()
        later = db.execute(
            select(plan_changes.c.at)
            .where(plan_changes.c.subscription_id == subscription.id)
            .where(plan_changes.c.at > at)
            .where((plan_changes.c.timing == When.NOW.value) | (plan_changes.c.at <= now))
            .order_by(plan_changes.c.at.desc())
        ).first()
        if later is not None:
            raise ConflictError(
                f"subscription '{subscription.id}' already changed at {later[0].isoformat()}, "
                f"after {at.isoformat()}; changes must be recorded in time order"
            )

    @staticmethod
    def _drop_pending_changes(
        db: Connection, subscription_id: str, *, after: datetime, keep_cancellation: bool
    ) -> None:
        """Forgets changes scheduled after ``after``: the change being made supersedes them."""
        pending = (
            delete(plan_changes)
            .where(plan_changes.c.subscription_id == subscription_id)
            .where(plan_changes.c.at > after)
        )
        if keep_cancellation:
            pending = pending.where(plan_changes.c.to_plan.is_not(None))
        db.execute(pending)
        db.execute(
            delete(subscription_plans)
            .where(subscription_plans.c.subscription_id == subscription_id)
            .where(subscription_plans.c.effective_from > after)
        )
        db.execute(
            update(subscription_plans)
            .where(subscription_plans.c.subscription_id == subscription_id)
            .where(subscription_plans.c.effective_to > after)
            .values(effective_to=None)
        )

    @staticmethod
    def _switch_plan(
        db: Connection, subscription: Subscription, plan: str, effective: datetime
    ) -> None:
        _end_plan_rows(db, subscription.id, effective)
        db.execute(
            insert(subscription_plans).values(
                subscription_id=subscription.id,
                plan=plan,
                effective_from=effective,
                effective_to=subscription.cancel_at,
            )
        )

    def _record_change(
        self,
        db: Connection,
        subscription_id: str,
        from_plan: str,
        to_plan: str | None,
        at: datetime,
        timing: When,
        credit: int,
        charge: int,
        currency: str,
    ) -> PlanChange:
        row: dict[str, Any] = {
            "subscription_id": subscription_id,
            "from_plan": from_plan,
            "to_plan": to_plan,
            "at": at,
            "timing": timing.value,
            "credit": credit,
            "charge": charge,
            "currency": currency,
            "created_at": self._clock(),
        }
        result = db.execute(insert(plan_changes).values(row).returning(plan_changes.c.id))
        return _change({**row, "id": result.scalar_one()})

    def _plan_change(
        self,
        db: Connection,
        subscription_id: str,
        new_plan: str,
        at: datetime,
        when: When | None,
        *,
        lock: bool,
    ) -> PlanChangePreview:
        """Every check of a plan change, its timing and its proration, in one place."""
        target = self._plan(new_plan)
        if lock:
            subscription, customer = self._lock_subscription(db, subscription_id)
        else:
            row = _subscription_row(db, subscription_id)
            if row is None:
                raise UnknownSubscriptionError(subscription_id)
            subscription = _subscription(row)
            found = _customer_row(db, subscription.customer_id)
            assert found is not None
            customer = found
        self._require_active(subscription, at)
        self._require_in_order(db, subscription, at)
        current_name = str(_plan_row_at(db, subscription_id, at)["plan"])
        if current_name == new_plan:
            raise ConflictError(
                f"subscription '{subscription_id}' is already on plan '{new_plan}' at "
                f"{at.isoformat()}"
            )
        current = self._plan(current_name)
        _check_currency(customer, new_plan, target)
        if subscription.anchoring is None and (
            (current.interval, current.cycle_anchor) != (target.interval, target.cycle_anchor)
        ):
            # Prorating across two cycle layouts would bill some days twice or never.
            raise ConflictError(
                f"plans '{current_name}' and '{new_plan}' lay out billing cycles "
                f"differently ({current.interval.value}/{current.cycle_anchor.value} vs "
                f"{target.interval.value}/{target.cycle_anchor.value}); cancel and subscribe "
                "again instead"
            )
        timing = when or (When.NOW if target.base_price >= current.base_price else When.PERIOD_END)
        cycle = self._cycle_rule(subscription, customer, current).cycle_at(at)
        if timing is When.NOW:
            proration = prorate_change(current.base_price, target.base_price, cycle, at)
            effective, credit, charge = at, proration.credit, proration.charge
            remaining = proration.remaining_seconds
        else:
            if subscription.cancel_at is not None and subscription.cancel_at <= cycle.end:
                raise ConflictError(
                    f"subscription '{subscription_id}' ends at "
                    f"{subscription.cancel_at.isoformat()}, the end of this period, so a "
                    "change at period end would never take effect; change it now "
                    "(--when now) or subscribe again after it ends"
                )
            effective, credit, charge, remaining = cycle.end, 0, 0, 0
        return PlanChangePreview(
            subscription=subscription,
            from_plan=current_name,
            to_plan=new_plan,
            asked_at=at,
            effective_at=effective,
            timing=timing,
            cycle=cycle,
            remaining_seconds=remaining,
            credit=credit,
            charge=charge,
            currency=str(customer["currency"]),
        )

    def _cycle_rule(
        self, subscription: Subscription, customer: RowMapping, plan: Plan
    ) -> CycleRule:
        return CycleRule(
            anchor=subscription.billing_anchor,
            interval=plan.interval,
            anchoring=subscription.anchoring or plan.cycle_anchor,
            timezone=customer["timezone"],
        )

    def _active_plan(self, db: Connection, customer_id: str, at: datetime) -> ActivePlan | None:
        customer = _customer_row(db, customer_id)
        if customer is None:
            raise UnknownCustomerError(customer_id)
        rows = list(
            db.execute(
                select(subscriptions)
                .where(subscriptions.c.customer_id == customer_id)
                .where(subscriptions.c.started_at <= at)
            ).mappings()
        )
        plans = {row["id"]: _plan_rows(db, row["id"]) for row in rows}
        return self._pick_active(customer, rows, plans, at)

    def _pick_active(
        self,
        customer: RowMapping,
        subscription_rows: Sequence[RowMapping],
        plan_rows: Mapping[str, Sequence[Mapping[Any, Any]]],
        at: datetime,
    ) -> ActivePlan | None:
        """The subscription active at ``at`` among the customer's, with its plan and cycle."""
        for subscription in map(_subscription, subscription_rows):
            if subscription.active_at(at):
                name = str(_plan_row_in(plan_rows.get(subscription.id, []), subscription.id, at))
                plan = self._plan(name)
                rule = self._cycle_rule(subscription, customer, plan)
                return ActivePlan(subscription, name, plan, rule.cycle_at(at), rule)
        return None

    def _plan_enforcement(
        self, db: Connection, customer_id: str, feature: str, at: datetime
    ) -> Enforcement:
        active = self._active_plan(db, customer_id, at)
        spec = active.plan.features.get(feature) if active else None
        return spec.limit.enforcement if spec and spec.limit else Enforcement.HARD


# -- rows -> values ------------------------------------------------------------------------------


def _customer_row(db: Connection, customer_id: str) -> RowMapping | None:
    return db.execute(select(customers).where(customers.c.id == customer_id)).mappings().first()


def _customer(row: Mapping[Any, Any]) -> Customer:
    return Customer(**row)


def _customer_exists(row: Mapping[Any, Any]) -> ConflictError:
    return ConflictError(
        f"customer '{row['id']}' already exists (created {row['created_at'].isoformat()}); "
        "change it with update_customer / 'tollgate customers update'"
    )


def _check_currency(customer: Mapping[Any, Any], plan_name: str, plan: Plan) -> None:
    if plan.currency != customer["currency"]:
        raise ConflictError(
            f"plan '{plan_name}' is priced in {plan.currency} but customer '{customer['id']}' "
            f"is billed in {customer['currency']}; choose a {customer['currency']} plan"
        )


def _subscription_row(db: Connection, subscription_id: str) -> RowMapping | None:
    return (
        db.execute(select(subscriptions).where(subscriptions.c.id == subscription_id))
        .mappings()
        .first()
    )


def _subscription(row: Mapping[Any, Any]) -> Subscription:
    anchoring = row["anchoring"]
    return Subscription(**{**row, "anchoring": CycleAnchor(anchoring) if anchoring else None})


def _plan_rows(db: Connection, subscription_id: str) -> list[RowMapping]:
    return list(
        db.execute(
            select(
                subscription_plans.c.subscription_id,
                subscription_plans.c.plan,
                subscription_plans.c.effective_from,
                subscription_plans.c.effective_to,
            )
            .where(subscription_plans.c.subscription_id == subscription_id)
            .order_by(subscription_plans.c.effective_from, subscription_plans.c.id)
        ).mappings()
    )


def _plan_row_at(db: Connection, subscription_id: str, at: datetime) -> RowMapping:
    """The history row in effect at ``at``; callers have checked the subscription is active."""
    rows = _plan_rows(db, subscription_id)
    for row in reversed(rows):
        if _in_effect(row, at):
            return row
    raise AssertionError(f"subscription {subscription_id} has no plan at {at.isoformat()}")


def _plan_row_in(rows: Sequence[Mapping[Any, Any]], subscription_id: str, at: datetime) -> str:
    """The plan of the history row in effect at ``at`` (rows oldest first)."""
    for row in reversed(rows):
        if _in_effect(row, at):
            return str(row["plan"])
    raise AssertionError(f"subscription {subscription_id} has no plan at {at.isoformat()}")


def _in_effect(row: Mapping[Any, Any], at: datetime) -> bool:
    return bool(
        row["effective_from"] <= at and (row["effective_to"] is None or at < row["effective_to"])
    )


def _rows_for(
    db: Connection, table: Any, column: Any, keys: Collection[str] | None
) -> list[RowMapping]:
    query = select(table)
    if keys is not None:
        query = query.where(column.in_(list(keys)))
    return list(db.execute(query).mappings())


def _rows_of_customer(
    db: Connection, table: Table, customer_id: str, order: Sequence[Any]
) -> list[RowMapping]:
    """A customer's rows of ``table`` in ``order``; refuses a customer that does not exist."""
    if _customer_row(db, customer_id) is None:
        raise UnknownCustomerError(customer_id)
    query = select(table).where(table.c.customer_id == customer_id).order_by(*order)
    return list(db.execute(query).mappings())


def _effective_limits(
    customer_id: str, active: ActivePlan | None, overrides: Sequence[Mapping[Any, Any]]
) -> EffectiveLimits:
    limits: dict[str, EffectiveLimit] = {}
    if active is not None:
        for feature, spec in active.plan.features.items():
            limits[feature] = EffectiveLimit(
                feature,
                spec.limit.value if spec.limit else None,
                spec.limit.enforcement if spec.limit else None,
                "plan",
            )
    for row in overrides:
        override = _override(row)
        limits[override.feature] = EffectiveLimit(
            override.feature, override.value, override.enforcement, "override"
        )
    return EffectiveLimits(
        customer_id, active.plan_name if active else None, dict(sorted(limits.items()))
    )


def _end_plan_rows(db: Connection, subscription_id: str, end: datetime) -> None:
    """Ends the plan period running at ``end``; nothing after it remains."""
    db.execute(
        update(subscription_plans)
        .where(subscription_plans.c.subscription_id == subscription_id)
        .where(subscription_plans.c.effective_from <= end)
        .where(
            (subscription_plans.c.effective_to.is_(None))
            | (subscription_plans.c.effective_to > end)
        )
        .values(effective_to=end)
    )


def _subscription_state(db: Connection, subscription_id: str) -> dict[str, Any]:
    """A subscription and its plan history, as the audit log records them."""
    row = _subscription_row(db, subscription_id)
    assert row is not None
    return {**row, "plans": [dict(plan) for plan in _plan_rows(db, subscription_id)]}


def _change(row: Mapping[Any, Any]) -> PlanChange:
    return PlanChange(**{**row, "timing": When(row["timing"])})


def _change_state(change: PlanChange) -> dict[str, Any]:
    return {
        "from_plan": change.from_plan,
        "to_plan": change.to_plan,
        "at": change.at,
        "timing": change.timing.value,
        "credit": change.credit,
        "charge": change.charge,
        "currency": change.currency,
    }


def _preferences_row(db: Connection, customer_id: str) -> RowMapping | None:
    key = notification_preferences.c.customer_id == customer_id
    return db.execute(select(notification_preferences).where(key)).mappings().first()


def _muted_types(types: Mapping[str, bool]) -> list[str]:
    """The types switched off, sorted; refuses types that do not exist and non-booleans."""
    for kind, received in types.items():
        if kind not in NOTIFICATION_TYPES:
            raise InvalidValueError(
                f"unknown notification type {kind!r}; the types are: "
                f"{', '.join(NOTIFICATION_TYPES)}"
            )
        if not isinstance(received, bool):
            raise InvalidValueError(
                f"notification type '{kind}' must be turned on (true) or off (false), "
                f"not {received!r}"
            )
    return sorted(kind for kind, received in types.items() if not received)


def _override_rows(db: Connection, customer_id: str) -> list[RowMapping]:
    return list(
        db.execute(
            select(limit_overrides)
            .where(limit_overrides.c.customer_id == customer_id)
            .order_by(limit_overrides.c.feature)
        ).mappings()
    )


def _overrides(
    db: Connection, customer_id: str, features: list[str] | None = None
) -> dict[str, Any]:
    return {
        row["feature"]: dict(row)
        for row in _override_rows(db, customer_id)
        if features is None or row["feature"] in features
    }


def _delete_overrides(db: Connection, customer_id: str, features: list[str] | None = None) -> None:
    query = delete(limit_overrides).where(limit_overrides.c.customer_id == customer_id)
    if features is not None:
        query = query.where(limit_overrides.c.feature.in_(features))
    db.execute(query)


def _override(row: Mapping[Any, Any]) -> LimitOverride:
    enforcement = row["enforcement"]
    return LimitOverride(
        customer_id=row["customer_id"],
        feature=row["feature"],
        value=row["value"],
        enforcement=Enforcement(enforcement) if enforcement else None,
        updated_at=row["updated_at"],
    )
