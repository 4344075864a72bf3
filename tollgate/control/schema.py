"""The control database's tables. Change them only together with a migration (``migrations/``).

Money is integer minor units, quantities exact decimals, times aware UTC (see ``types.py``).
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    false,
)

from tollgate.control.types import Quantity, UtcDateTime

# Stable constraint names, so that migrations can refer to them on both backends.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

customers = Table(
    "customers",
    metadata,
    # The customer_id that usage events carry.
    Column("id", String(255), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("email", String(320)),
    Column("timezone", String(64), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("stripe_customer_id", String(64), unique=True),
)

subscriptions = Table(
    "subscriptions",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("customer_id", String(255), ForeignKey("customers.id"), nullable=False, index=True),
    # What the last change made it: active, or canceled (ended). A subscription canceled at
    # period end stays active until cancel_at; queries "at a moment" read the times, not this.
    Column("status", String(16), nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    # Cycles are counted from here (Stripe's billing_cycle_anchor).
    Column("billing_anchor", UtcDateTime, nullable=False),
    # anniversary | calendar; None follows the plan's cycle_anchor.
    Column("anchoring", String(16)),
    Column("cancel_at", UtcDateTime),
    Column("ended_at", UtcDateTime),
    Column("created_at", UtcDateTime, nullable=False),
    # Stripe's status of the subscription (active, past_due, unpaid, trialing, incomplete,
    # paused, canceled ...), as its last webhook said; None when Stripe has not reported one.
    Column("stripe_status", String(32)),
    CheckConstraint("status in ('active', 'canceled')", name="status"),
)

subscription_plans = Table(
    "subscription_plans",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "subscription_id", String(64), ForeignKey("subscriptions.id"), nullable=False, index=True
    ),
    Column("plan", String(64), nullable=False),
    # [effective_from, effective_to); a row starting in the future is a scheduled change.
    Column("effective_from", UtcDateTime, nullable=False),
    Column("effective_to", UtcDateTime),
)

plan_changes = Table(
    "plan_changes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "subscription_id", String(64), ForeignKey("subscriptions.id"), nullable=False, index=True
    ),
    Column("from_plan", String(64), nullable=False),
    # None: the subscription was canceled at ``at`` (credit is the unused base price).
    Column("to_plan", String(64)),
    Column("at", UtcDateTime, nullable=False),
    # now | period_end
    Column("timing", String(16), nullable=False),
    # Minor units, as tollgate.billing.proration computed them; stored so that an invoice
    # re-run months later gives the same lines even if the catalogue's prices changed since.
    Column("credit", BigInteger, nullable=False),
    Column("charge", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    CheckConstraint("credit <= 0 and charge >= 0", name="signs"),
)

limit_overrides = Table(
    "limit_overrides",
    metadata,
    Column("customer_id", String(255), ForeignKey("customers.id"), primary_key=True),
    Column("feature", String(64), primary_key=True),
    # None: unlimited.
    Column("value", Quantity),
    # hard | soft; None when unlimited.
    Column("enforcement", String(8)),
    Column("updated_at", UtcDateTime, nullable=False),
)

notification_reads = Table(
    "notification_reads",
    metadata,
    Column("customer_id", String(255), ForeignKey("customers.id"), primary_key=True),
    Column("notification_id", String(200), primary_key=True),
    Column("read_at", UtcDateTime, nullable=False),
)

# Which notices each customer receives (models.NotificationPreferences); no row: every notice.
# What is stored is what the customer muted, so a notification type or alert threshold added
# later reaches everyone who has not muted it. The notices themselves are derived as always
# (tollgate.billing.alerts); these only choose which are listed. Delivery channels (e-mail,
# webhook) belong here too, as columns of this row.
notification_preferences = Table(
    "notification_preferences",
    metadata,
    Column("customer_id", String(255), ForeignKey("customers.id"), primary_key=True),
    # Sorted JSON lists: notification types (limit_warning ...), and alert threshold percents
    # of the catalogue (75, 90 ...), that the customer does not want to hear about.
    Column("muted_types", JSON, nullable=False),
    Column("muted_thresholds", JSON, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    # Also deliver the received notices by e-mail, to customers.email (migration 0006).
    Column("email_enabled", Boolean, nullable=False, server_default=false()),
)

# Where a customer's notices are POSTed, signed with the endpoint's secret (tollgate/delivery/).
webhook_endpoints = Table(
    "webhook_endpoints",
    metadata,
    Column("endpoint_id", String(40), primary_key=True),  # we_...
    Column("customer_id", String(255), ForeignKey("customers.id"), nullable=False, index=True),
    Column("url", String(2000), nullable=False),
    # whsec_...: the HMAC key of the signatures; shown to the customer when created.
    Column("secret", String(100), nullable=False),
    Column("description", String(200)),
    Column("enabled", Boolean, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

# Alerts on a cycle's cost, and the budget that stops spend (tollgate/limits/spend.py): one
# row per amount; a customer has at most one budget. Amounts are minor units of the currency.
spend_thresholds = Table(
    "spend_thresholds",
    metadata,
    Column("customer_id", String(255), ForeignKey("customers.id"), primary_key=True),
    Column("kind", String(8), primary_key=True),  # alert | budget
    Column("amount", BigInteger, primary_key=True),
    Column("currency", String(3), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    CheckConstraint("kind in ('alert', 'budget')", name="kind"),
    CheckConstraint("amount > 0", name="amount"),
)

# Every notice the delivery dispatcher took up, once (the primary key): what each channel
# delivers is frozen here, so a resend months later sends the same words.
notification_outbox = Table(
    "notification_outbox",
    metadata,
    Column("notification_id", String(64), primary_key=True),
    Column("customer_id", String(255), nullable=False, index=True),
    Column("notification_type", String(32), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("seen_at", UtcDateTime, nullable=False),
)

# One row per notice and channel target: "delivered twice" would need a second row, which
# the unique key forbids. pending -> sending (claimed, leased) -> delivered | pending (retry
# later) | failed (gave up; a resend makes it pending again).
notification_deliveries = Table(
    "notification_deliveries",
    metadata,
    Column("delivery_id", String(64), primary_key=True),  # dlv_...
    Column("notification_id", String(64), nullable=False),
    Column("customer_id", String(255), nullable=False, index=True),
    Column("channel", String(16), nullable=False),  # email | webhook
    Column("target", String(2000), nullable=False),  # the address, or the endpoint id
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UtcDateTime),
    Column("lease_until", UtcDateTime),
    # Why the next attempt happens: first | retry | recovery (after a crash) | resend
    Column("pending_trigger", String(16)),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("delivered_at", UtcDateTime),
    Column("last_error", String(1000)),
    CheckConstraint("status in ('pending', 'sending', 'delivered', 'failed')", name="status"),
    Index(None, "notification_id", "channel", "target", unique=True),
    Index(None, "status", "next_attempt_at"),
)

# Every attempt to deliver, as it went: the log admins read.
delivery_attempts = Table(
    "delivery_attempts",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column(
        "delivery_id",
        String(64),
        ForeignKey("notification_deliveries.delivery_id"),
        nullable=False,
        index=True,
    ),
    Column("attempt", Integer, nullable=False),
    Column("trigger", String(16), nullable=False),  # scheduled | retry | resend
    Column("started_at", UtcDateTime, nullable=False),
    Column("finished_at", UtcDateTime),
    # delivered | failed | interrupted (the process stopped mid-attempt); None while running
    Column("outcome", String(16)),
    Column("status_code", Integer),  # HTTP status, or the SMTP reply code
    Column("error", String(1000)),
    Column("duration_ms", Integer),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("key_id", String(32), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("token_sha256", String(64), nullable=False, unique=True),
    # Comma-separated, sorted: ingest,read,admin.
    Column("scopes", String(64), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("revoked_at", UtcDateTime),
    # Set: a customer's own key, which acts for that customer only (the billing API).
    Column("customer_id", String(255), ForeignKey("customers.id")),
)

# Usage notifications the API raised in real time, before a pipeline run derives them. The id
# is tollgate.billing.identifiers.notification_id of the same facts the pipeline uses, so the
# primary key makes "raised twice" impossible and the pipeline's row is the same notification.
notifications = Table(
    "notifications",
    metadata,
    Column("notification_id", String(64), primary_key=True),
    Column("customer_id", String(255), ForeignKey("customers.id"), nullable=False, index=True),
    # limit_warning | limit_exceeded
    Column("notification_type", String(32), nullable=False),
    # warning | critical | exceeded
    Column("severity", String(16), nullable=False),
    Column("feature", String(64)),
    Column("threshold_percent", Integer),
    Column("window_start", UtcDateTime, nullable=False),
    Column("window_end", UtcDateTime, nullable=False),
    # When the threshold was crossed: the crossing event's time, as the pipeline dates it.
    Column("created_at", UtcDateTime, nullable=False),
    # When the API recorded it.
    Column("raised_at", UtcDateTime, nullable=False),
    Column("title", String(200), nullable=False),
    Column("message", String(1000), nullable=False),
)

# Every Stripe webhook event received, once: the primary key makes "processed twice"
# impossible. The row is written in the same transaction as what the event changed, so a
# crash leaves neither and Stripe's retry processes the event.
stripe_events = Table(
    "stripe_events",
    metadata,
    Column("event_id", String(255), primary_key=True),
    Column("event_type", String(100), nullable=False),
    # Stripe's ``created``: when the change the event reports happened.
    Column("created", UtcDateTime, nullable=False),
    # The Stripe object the event is about (in_..., sub_...); None if it has no id.
    Column("object_id", String(255)),
    Column("received_at", UtcDateTime, nullable=False),
    Column("processed_at", UtcDateTime, nullable=False),
    # applied | stale | ignored_type | ignored_unknown_customer | ignored_unknown_subscription
    # | rejected (the control plane refused the change; ``detail`` says why)
    Column("outcome", String(32), nullable=False),
    Column("detail", String(1000)),
)

# The newest event applied per Stripe object: an event created before it is stale, so events
# delivered out of order never undo newer ones.
stripe_objects = Table(
    "stripe_objects",
    metadata,
    Column("object_id", String(255), primary_key=True),
    # invoice | subscription
    Column("object_type", String(32), nullable=False),
    Column("last_event_id", String(255), nullable=False),
    Column("last_event_created", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

# Payments of Stripe invoices, as Stripe's invoice.payment_succeeded / _failed events report.
invoice_payments = Table(
    "invoice_payments",
    metadata,
    Column("stripe_invoice_id", String(255), primary_key=True),
    Column("customer_id", String(255), ForeignKey("customers.id"), nullable=False, index=True),
    # The Tollgate subscription the invoice bills, when the Stripe subscription names it.
    Column("subscription_id", String(64), ForeignKey("subscriptions.id")),
    Column("stripe_subscription_id", String(255)),
    Column("period_start", UtcDateTime, nullable=False),
    Column("period_end", UtcDateTime, nullable=False),
    # Minor units, as Stripe reports them.
    Column("amount_due", BigInteger, nullable=False),
    Column("amount_paid", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    # paid | failed
    Column("status", String(16), nullable=False),
    Column("last_event_id", String(255), nullable=False),
    Column("last_event_created", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    CheckConstraint("status in ('paid', 'failed')", name="status"),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("at", UtcDateTime, nullable=False),
    # Who: cli:<login>, api:<key id>, stripe-sync, demo ...
    Column("actor", String(200), nullable=False),
    # What: customer.create, subscription.change_plan, api_key.revoke ...
    Column("action", String(64), nullable=False),
    Column("entity", String(32), nullable=False),
    Column("entity_id", String(200), nullable=False),
    Column("before", JSON),
    Column("after", JSON),
    Index(None, "entity", "entity_id"),
)

# What Stripe accepted of each customer's billable usage, per cycle and meter
# (tollgate/stripe_sync/report_ledger.py): the pending event is committed before it is sent,
# so a push that crashed resends the very same event and Stripe counts it once.
stripe_meter_reports = Table(
    "stripe_meter_reports",
    metadata,
    Column("customer_id", String(255), primary_key=True),
    Column("cycle_id", String(300), primary_key=True),  # customer_id/cycle start
    Column("event_name", String(100), primary_key=True),
    # Meter units (whole numbers, as Stripe meters take them): exact in SQL arithmetic.
    Column("reported", BigInteger, nullable=False),
    Column("pending_identifier", String(100)),
    Column("pending_value", BigInteger),
    Column("pending_timestamp", UtcDateTime),
    Column("updated_at", UtcDateTime, nullable=False),
)
