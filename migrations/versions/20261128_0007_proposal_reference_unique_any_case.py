"""proposal references unique in their cycle whatever their case

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28 22:30:00.000000

A unique index on ``(cycle_id, lower(reference))`` on both databases. A database that already holds
references differing only in case within a cycle is not changed: the upgrade stops and lists them, because
which proposal keeps the reference that papers and people quote is a decision for the cycle's chair, not for
a migration. Rename all but one in each group (``PATCH /api/v1/proposals/{id}`` with a new ``reference``)
and run the upgrade again.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op
from alembic.util import CommandError

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "uq_proposals_cycle_id_lower_reference"
SHOWN = 50


def duplicates(bind) -> list[tuple[int, int, str]]:
    """``(cycle_id, proposal id, reference)`` of every proposal whose reference another one in its cycle
    repeats in a different case, grouped by cycle and reference."""
    return [
        tuple(row)
        for row in bind.execute(
            sa.text(
                "SELECT p.cycle_id, p.id, p.reference FROM proposals p "
                "JOIN (SELECT cycle_id, lower(reference) AS ref FROM proposals "
                "      GROUP BY cycle_id, lower(reference) HAVING count(*) > 1) d "
                "ON d.cycle_id = p.cycle_id AND d.ref = lower(p.reference) "
                "ORDER BY p.cycle_id, lower(p.reference), p.id"
            )
        )
    ]


def refuse(rows: list[tuple[int, int, str]]) -> None:
    groups: dict[tuple[int, str], list[str]] = {}
    for cycle_id, proposal_id, reference in rows:
        groups.setdefault((cycle_id, reference.lower()), []).append(f"'{reference}' (proposal {proposal_id})")
    lines = [f"  cycle {cycle_id}: " + ", ".join(members) for (cycle_id, _), members in groups.items()]
    more = f"\n  … and {len(lines) - SHOWN} more group(s)" if len(lines) > SHOWN else ""
    raise CommandError(
        "Proposal references must be unique in their cycle whatever their case, but "
        f"{len(groups)} group(s) of proposals share a reference that differs only in case:\n"
        + "\n".join(lines[:SHOWN])
        + more
        + "\nGive all but one proposal of each group a new reference (PATCH /api/v1/proposals/{id} "
        'with "reference"), then run the upgrade again. Nothing was changed.'
    )


def upgrade() -> None:
    if not context.is_offline_mode():
        rows = duplicates(op.get_bind())
        if rows:
            refuse(rows)
    op.create_index(INDEX, "proposals", ["cycle_id", sa.text("lower(reference)")], unique=True)


def downgrade() -> None:
    op.drop_index(INDEX, table_name="proposals")
