"""Notification delivery (e-mail switch, webhook endpoints, outbox, deliveries, attempts) and
spend thresholds (alerts on a cycle's cost, and budgets).

Revision ID: 0006_delivery_and_spend
Revises: 0005_notification_preferences
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tollgate.control.types import UtcDateTime

revision: str = "0006_delivery_and_spend"
down_revision: str | None = "0005_notification_preferences"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    # Not null with a default: SQLite adds it in place, no batch copy needed.
    op.add_column(
        "notification_preferences",
        sa.Column("email_enabled", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    op.create_table(
        "webhook_endpoints",
        sa.Column("endpoint_id", sa.String(40), nullable=False),
        sa.Column("customer_id", sa.String(255), nullable=False),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("secret", sa.String(100), nullable=False),
        sa.Column("description", sa.String(200)),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("endpoint_id", name="pk_webhook_endpoints"),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name="fk_webhook_endpoints_customer_id_customers"
        ),
    )
    op.create_index("ix_webhook_endpoints_customer_id", "webhook_endpoints", ["customer_id"])
    op.create_table(
        "spend_thresholds",
        sa.Column("customer_id", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("customer_id", "kind", "amount", name="pk_spend_thresholds"),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name="fk_spend_thresholds_customer_id_customers"
        ),
        sa.CheckConstraint("kind in ('alert', 'budget')", name="ck_spend_thresholds_kind"),
        sa.CheckConstraint("amount > 0", name="ck_spend_thresholds_amount"),
    )
    op.create_table(
        "notification_outbox",
        sa.Column("notification_id", sa.String(64), nullable=False),
        sa.Column("customer_id", sa.String(255), nullable=False),
        sa.Column("notification_type", sa.String(32), nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("seen_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("notification_id", name="pk_notification_outbox"),
    )
    op.create_index("ix_notification_outbox_customer_id", "notification_outbox", ["customer_id"])
    op.create_table(
        "notification_deliveries",
        sa.Column("delivery_id", sa.String(64), nullable=False),
        sa.Column("notification_id", sa.String(64), nullable=False),
        sa.Column("customer_id", sa.String(255), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("target", sa.String(2000), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", UtcDateTime),
        sa.Column("lease_until", UtcDateTime),
        sa.Column("pending_trigger", sa.String(16)),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.Column("delivered_at", UtcDateTime),
        sa.Column("last_error", sa.String(1000)),
        sa.PrimaryKeyConstraint("delivery_id", name="pk_notification_deliveries"),
        sa.CheckConstraint(
            "status in ('pending', 'sending', 'delivered', 'failed')",
            name="ck_notification_deliveries_status",
        ),
    )
    op.create_index(
        "ix_notification_deliveries_customer_id", "notification_deliveries", ["customer_id"]
    )
    op.create_index(
        "ix_notification_deliveries_notification_id_channel_target",
        "notification_deliveries",
        ["notification_id", "channel", "target"],
        unique=True,
    )
    op.create_index(
        "ix_notification_deliveries_status_next_attempt_at",
        "notification_deliveries",
        ["status", "next_attempt_at"],
    )
    op.create_table(
        "delivery_attempts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), nullable=False),
        sa.Column("delivery_id", sa.String(64), nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("trigger", sa.String(16), nullable=False),
        sa.Column("started_at", UtcDateTime, nullable=False),
        sa.Column("finished_at", UtcDateTime),
        sa.Column("outcome", sa.String(16)),
        sa.Column("status_code", sa.Integer),
        sa.Column("error", sa.String(1000)),
        sa.Column("duration_ms", sa.Integer),
        sa.PrimaryKeyConstraint("id", name="pk_delivery_attempts"),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["notification_deliveries.delivery_id"],
            name="fk_delivery_attempts_delivery_id_notification_deliveries",
        ),
    )
    op.create_index("ix_delivery_attempts_delivery_id", "delivery_attempts", ["delivery_id"])


def downgrade() -> None:
    op.drop_table("delivery_attempts")
    op.drop_table("notification_deliveries")
    op.drop_table("notification_outbox")
    op.drop_table("spend_thresholds")
    op.drop_table("webhook_endpoints")
    with op.batch_alter_table("notification_preferences") as batch:
        batch.drop_column("email_enabled")
