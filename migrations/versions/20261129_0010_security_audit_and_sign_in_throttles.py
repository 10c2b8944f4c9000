"""security audit fields and sign-in throttles

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29 04:10:00

``audit_events`` gains the client address a request came from and, for security events, its outcome
(success, failure, denied). ``auth_throttles`` counts failed sign-ins per account and per client address,
in the database, so that several instances of the service on one database share the counts and locks.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.models.base

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("audit_events") as batch:
        batch.add_column(sa.Column("client_address", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("outcome", sa.String(length=12), nullable=True))
    op.create_table(
        "auth_throttles",
        sa.Column("scope", sa.String(length=10), nullable=False),
        sa.Column("key", sa.String(length=320), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("first_failure_at", app.models.base.UTCDateTime(), nullable=True),
        sa.Column("last_failure_at", app.models.base.UTCDateTime(), nullable=True),
        sa.Column("locked_until", app.models.base.UTCDateTime(), nullable=True),
        sa.CheckConstraint("scope IN ('account', 'address')", name=op.f("ck_auth_throttles_scope_known")),
        sa.PrimaryKeyConstraint("scope", "key", name=op.f("pk_auth_throttles")),
    )
    op.create_index("ix_auth_throttles_locked_until", "auth_throttles", ["locked_until"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_auth_throttles_locked_until", table_name="auth_throttles")
    op.drop_table("auth_throttles")
    with op.batch_alter_table("audit_events") as batch:
        batch.drop_column("outcome")
        batch.drop_column("client_address")
