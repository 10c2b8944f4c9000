"""an index for clearing out sign-in counters that no longer count

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-29 05:10:00

Each new sign-in counter (a failure for an account or address not counted in the window) also deletes a
batch of counters whose window has passed and whose lock has ended, so that emails tried once and never
again do not pile up. The index on ``last_failure_at`` finds them without reading the whole table.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_auth_throttles_last_failure_at", "auth_throttles", ["last_failure_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_auth_throttles_last_failure_at", table_name="auth_throttles")
