"""cycle quorum and disagreement threshold

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28 22:06:55.678165
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("cycles", schema=None) as batch_op:
        batch_op.add_column(sa.Column("min_scorecards", sa.Integer(), server_default="3", nullable=False))
        batch_op.add_column(
            sa.Column("disagreement_threshold", sa.Integer(), server_default="2", nullable=False)
        )
        batch_op.create_check_constraint("min_scorecards_positive", "min_scorecards >= 1")
        batch_op.create_check_constraint("disagreement_threshold_positive", "disagreement_threshold >= 1")


def downgrade() -> None:
    with op.batch_alter_table("cycles", schema=None) as batch_op:
        batch_op.drop_constraint("disagreement_threshold_positive", type_="check")
        batch_op.drop_constraint("min_scorecards_positive", type_="check")
        batch_op.drop_column("disagreement_threshold")
        batch_op.drop_column("min_scorecards")
