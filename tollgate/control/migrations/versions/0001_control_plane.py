"""The control plane: customers, subscriptions, plan history, limits, notifications, keys, audit.

Revision ID: 0001_control_plane
Revises:
Create Date: 2026-11-24

A data directory from before this revision already has an ``api_keys`` table (created by the
old key store, times as ISO text); its keys are carried over so that they keep working.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op

from tollgate.control.types import Quantity, UtcDateTime

revision: str = "0001_control_plane"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    legacy_keys = _take_legacy_api_keys()
    op.create_table(
        "customers",
        sa.Column("id", sa.String(255), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("email", sa.String(320)),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.Column("stripe_customer_id", sa.String(64)),
        sa.PrimaryKeyConstraint("id", name="pk_customers"),
        sa.UniqueConstraint("stripe_customer_id", name="uq_customers_stripe_customer_id"),
    )
    op.create_table(
        "subscriptions",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("customer_id", sa.String(255), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("started_at", UtcDateTime, nullable=False),
        sa.Column("billing_anchor", UtcDateTime, nullable=False),
        sa.Column("anchoring", sa.String(16)),
        sa.Column("cancel_at", UtcDateTime),
        sa.Column("ended_at", UtcDateTime),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_subscriptions"),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name="fk_subscriptions_customer_id_customers"
        ),
        sa.CheckConstraint("status in ('active', 'canceled')", name="ck_subscriptions_status"),
    )
    op.create_index("ix_subscriptions_customer_id", "subscriptions", ["customer_id"])
    op.create_table(
        "subscription_plans",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("subscription_id", sa.String(64), nullable=False),
        sa.Column("plan", sa.String(64), nullable=False),
        sa.Column("effective_from", UtcDateTime, nullable=False),
        sa.Column("effective_to", UtcDateTime),
        sa.PrimaryKeyConstraint("id", name="pk_subscription_plans"),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["subscriptions.id"],
            name="fk_subscription_plans_subscription_id_subscriptions",
        ),
    )
    op.create_index(
        "ix_subscription_plans_subscription_id", "subscription_plans", ["subscription_id"]
    )
    op.create_table(
        "plan_changes",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("subscription_id", sa.String(64), nullable=False),
        sa.Column("from_plan", sa.String(64), nullable=False),
        sa.Column("to_plan", sa.String(64)),
        sa.Column("at", UtcDateTime, nullable=False),
        sa.Column("timing", sa.String(16), nullable=False),
        sa.Column("credit", sa.BigInteger, nullable=False),
        sa.Column("charge", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_plan_changes"),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["subscriptions.id"],
            name="fk_plan_changes_subscription_id_subscriptions",
        ),
        sa.CheckConstraint("credit <= 0 and charge >= 0", name="ck_plan_changes_signs"),
    )
    op.create_index("ix_plan_changes_subscription_id", "plan_changes", ["subscription_id"])
    op.create_table(
        "limit_overrides",
        sa.Column("customer_id", sa.String(255), nullable=False),
        sa.Column("feature", sa.String(64), nullable=False),
        sa.Column("value", Quantity),
        sa.Column("enforcement", sa.String(8)),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("customer_id", "feature", name="pk_limit_overrides"),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name="fk_limit_overrides_customer_id_customers"
        ),
    )
    op.create_table(
        "notification_reads",
        sa.Column("customer_id", sa.String(255), nullable=False),
        sa.Column("notification_id", sa.String(200), nullable=False),
        sa.Column("read_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("customer_id", "notification_id", name="pk_notification_reads"),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name="fk_notification_reads_customer_id_customers"
        ),
    )
    api_keys = op.create_table(
        "api_keys",
        sa.Column("key_id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("token_sha256", sa.String(64), nullable=False),
        sa.Column("scopes", sa.String(64), nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("revoked_at", UtcDateTime),
        sa.PrimaryKeyConstraint("key_id", name="pk_api_keys"),
        sa.UniqueConstraint("token_sha256", name="uq_api_keys_token_sha256"),
    )
    op.create_table(
        "audit_log",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer, "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("at", UtcDateTime, nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("entity", sa.String(32), nullable=False),
        sa.Column("entity_id", sa.String(200), nullable=False),
        sa.Column("before", sa.JSON),
        sa.Column("after", sa.JSON),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
    )
    op.create_index("ix_audit_log_entity_entity_id", "audit_log", ["entity", "entity_id"])
    if legacy_keys:
        assert api_keys is not None
        op.bulk_insert(api_keys, legacy_keys)


def downgrade() -> None:
    for table in (
        "audit_log",
        "api_keys",
        "notification_reads",
        "limit_overrides",
        "plan_changes",
        "subscription_plans",
        "subscriptions",
        "customers",
    ):
        op.drop_table(table)


def _take_legacy_api_keys() -> list[dict[str, object]]:
    """The rows of a pre-migrations ``api_keys`` table (then dropped), times parsed."""
    bind = op.get_bind()
    if not sa.inspect(bind).has_table("api_keys"):
        return []
    rows: Sequence[tuple[str, str, str, str, str, str | None]] = bind.execute(
        sa.text("select key_id, name, token_sha256, scopes, created_at, revoked_at from api_keys")
    ).all()
    op.drop_table("api_keys")
    return [
        {
            "key_id": key_id,
            "name": name,
            "token_sha256": token_sha256,
            "scopes": scopes,
            "created_at": datetime.fromisoformat(created_at),
            "revoked_at": datetime.fromisoformat(revoked_at) if revoked_at else None,
        }
        for key_id, name, token_sha256, scopes, created_at, revoked_at in rows
    ]
