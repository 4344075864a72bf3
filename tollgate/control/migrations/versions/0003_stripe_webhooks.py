"""Stripe webhooks: events received once, per-object ordering, invoice payments, Stripe status.

Revision ID: 0003_stripe_webhooks
Revises: 0002_customer_keys_notifications
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tollgate.control.types import UtcDateTime

revision: str = "0003_stripe_webhooks"
down_revision: str | None = "0002_customer_keys_notifications"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    # Nullable and without a foreign key: SQLite adds it in place, no batch copy needed.
    op.add_column("subscriptions", sa.Column("stripe_status", sa.String(32)))
    op.create_table(
        "stripe_events",
        sa.Column("event_id", sa.String(255), nullable=False),
        sa.Column("event_type", sa.String(100), nullable=False),
        sa.Column("created", UtcDateTime, nullable=False),
        sa.Column("object_id", sa.String(255)),
        sa.Column("received_at", UtcDateTime, nullable=False),
        sa.Column("processed_at", UtcDateTime, nullable=False),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("detail", sa.String(1000)),
        sa.PrimaryKeyConstraint("event_id", name="pk_stripe_events"),
    )
    op.create_table(
        "stripe_objects",
        sa.Column("object_id", sa.String(255), nullable=False),
        sa.Column("object_type", sa.String(32), nullable=False),
        sa.Column("last_event_id", sa.String(255), nullable=False),
        sa.Column("last_event_created", UtcDateTime, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("object_id", name="pk_stripe_objects"),
    )
    op.create_table(
        "invoice_payments",
        sa.Column("stripe_invoice_id", sa.String(255), nullable=False),
        sa.Column("customer_id", sa.String(255), nullable=False),
        sa.Column("subscription_id", sa.String(64)),
        sa.Column("stripe_subscription_id", sa.String(255)),
        sa.Column("period_start", UtcDateTime, nullable=False),
        sa.Column("period_end", UtcDateTime, nullable=False),
        sa.Column("amount_due", sa.BigInteger, nullable=False),
        sa.Column("amount_paid", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("last_event_id", sa.String(255), nullable=False),
        sa.Column("last_event_created", UtcDateTime, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("stripe_invoice_id", name="pk_invoice_payments"),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name="fk_invoice_payments_customer_id_customers"
        ),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["subscriptions.id"],
            name="fk_invoice_payments_subscription_id_subscriptions",
        ),
        sa.CheckConstraint("status in ('paid', 'failed')", name="ck_invoice_payments_status"),
    )
    op.create_index("ix_invoice_payments_customer_id", "invoice_payments", ["customer_id"])


def downgrade() -> None:
    op.drop_index("ix_invoice_payments_customer_id", table_name="invoice_payments")
    op.drop_table("invoice_payments")
    op.drop_table("stripe_objects")
    op.drop_table("stripe_events")
    with op.batch_alter_table("subscriptions") as batch:
        batch.drop_column("stripe_status")
