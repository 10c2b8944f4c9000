"""a draft proposal may be saved before its kind is chosen

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-29 07:00:00

A draft can be saved with only a title; completeness (capability, kind, capability lead) is checked when
it is submitted. ``proposals.kind`` becomes nullable; its check constraint still admits only the three
kinds (a NULL passes a CHECK). Downgrading refuses while a draft has no kind, rather than invent one.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# SQLite cannot alter a column's NULL rule in place, and rebuilding ``proposals`` would mean dropping and
# recreating the ranking triggers on nine tables, the any-case reference index and every foreign key that
# points at it. SQLite documents a simpler procedure for removing a NOT NULL constraint (which does not
# change how rows are stored): edit the table's definition in sqlite_schema and bump the schema version.
# https://www.sqlite.org/lang_altertable.html, "Making Other Kinds Of Table Schema Changes".
NOT_NULL = "kind VARCHAR(20) NOT NULL,"
NULLABLE = "kind VARCHAR(20),"


def _sqlite_swap(old: str, new: str) -> None:
    bind = op.get_bind()
    sql = bind.scalar(sa.text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'proposals'"))
    if sql.count(old) != 1:
        raise RuntimeError(f"proposals.kind is not defined as expected ({old!r}) in: {sql}")
    version = bind.scalar(sa.text("PRAGMA schema_version"))
    bind.exec_driver_sql("PRAGMA writable_schema = ON")
    bind.execute(
        sa.text("UPDATE sqlite_master SET sql = :sql WHERE type = 'table' AND name = 'proposals'"),
        {"sql": sql.replace(old, new)},
    )
    bind.exec_driver_sql(f"PRAGMA schema_version = {int(version) + 1}")
    bind.exec_driver_sql("PRAGMA writable_schema = OFF")
    if bind.scalar(sa.text("PRAGMA integrity_check")) != "ok":
        raise RuntimeError("the database failed its integrity check after changing proposals.kind")


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_swap(NOT_NULL, NULLABLE)
    else:
        op.alter_column("proposals", "kind", existing_type=sa.String(length=20), nullable=True)


def downgrade() -> None:
    kindless = op.get_bind().scalar(sa.text("SELECT count(*) FROM proposals WHERE kind IS NULL"))
    if kindless:
        raise RuntimeError(
            f"{kindless} draft proposal(s) have no kind yet: choose one for each before downgrading."
        )
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_swap(NULLABLE, NOT_NULL)
    else:
        op.alter_column("proposals", "kind", existing_type=sa.String(length=20), nullable=False)
