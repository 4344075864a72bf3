"""The ledger of usage Stripe accepted, per customer, cycle and meter.

Revision ID: 0004_stripe_meter_reports
Revises: 0003_stripe_webhooks
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tollgate.control.types import UtcDateTime

revision: str = "0004_stripe_meter_reports"
down_revision: str | None = "0003_stripe_webhooks"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "stripe_meter_reports",
        sa.Column("customer_id", sa.String(255), nullable=False),
        sa.Column("cycle_id", sa.String(300), nullable=False),
        sa.Column("event_name", sa.String(100), nullable=False),
        sa.Column("reported", sa.BigInteger, nullable=False),
        sa.Column("pending_identifier", sa.String(100)),
        sa.Column("pending_value", sa.BigInteger),
        sa.Column("pending_timestamp", UtcDateTime),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint(
            "customer_id", "cycle_id", "event_name", name="pk_stripe_meter_reports"
        ),
    )


def downgrade() -> None:
    op.drop_table("stripe_meter_reports")
