"""Customer-bound API keys; notifications raised in real time by the API.

Revision ID: 0002_customer_keys_notifications
Revises: 0001_control_plane
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tollgate.control.types import UtcDateTime

revision: str = "0002_customer_keys_notifications"
down_revision: str | None = "0001_control_plane"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    # Batch mode: SQLite cannot add a foreign key to an existing table in place.
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("customer_id", sa.String(255)))
        batch.create_foreign_key(
            "fk_api_keys_customer_id_customers", "customers", ["customer_id"], ["id"]
        )
    op.create_table(
        "notifications",
        sa.Column("notification_id", sa.String(64), nullable=False),
        sa.Column("customer_id", sa.String(255), nullable=False),
        sa.Column("notification_type", sa.String(32), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("feature", sa.String(64)),
        sa.Column("threshold_percent", sa.Integer),
        sa.Column("window_start", UtcDateTime, nullable=False),
        sa.Column("window_end", UtcDateTime, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("raised_at", UtcDateTime, nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("message", sa.String(1000), nullable=False),
        sa.PrimaryKeyConstraint("notification_id", name="pk_notifications"),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name="fk_notifications_customer_id_customers"
        ),
    )
    op.create_index("ix_notifications_customer_id", "notifications", ["customer_id"])


def downgrade() -> None:
    op.drop_index("ix_notifications_customer_id", table_name="notifications")
    op.drop_table("notifications")
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_constraint("fk_api_keys_customer_id_customers", type_="foreignkey")
        batch.drop_column("customer_id")
