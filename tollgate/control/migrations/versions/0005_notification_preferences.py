"""Which notices each customer receives: notification types and alert thresholds muted.

Revision ID: 0005_notification_preferences
Revises: 0004_stripe_meter_reports
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tollgate.control.types import UtcDateTime

revision: str = "0005_notification_preferences"
down_revision: str | None = "0004_stripe_meter_reports"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "notification_preferences",
        sa.Column("customer_id", sa.String(255), nullable=False),
        sa.Column("muted_types", sa.JSON, nullable=False),
        sa.Column("muted_thresholds", sa.JSON, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("customer_id", name="pk_notification_preferences"),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name="fk_notification_preferences_customer_id_customers",
        ),
    )


def downgrade() -> None:
    op.drop_table("notification_preferences")
