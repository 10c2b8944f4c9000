"""ranking revisions and read indexes

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29 01:55:00

An index on ``panel_proposals.proposal_id`` (the primary key starts with ``panel_id``, so "which panel is
this proposal on" scanned the table: once per proposal in a ranking, once per scorecard read and save).

``ranking_revisions`` and the triggers that keep it: every statement that changes what a cycle's rankings
are computed from sets one of the cycle's slots to a value never used before, so the cached rankings of
every instance (keyed by the slots, read before computing) are never stale after a write, whichever code
path made it. SQLite: row triggers, one slot, a random 64-bit value. PostgreSQL: statement triggers over the
transition tables, a sequence for the values, and a slot no other transaction holds (``SKIP LOCKED``), so
concurrent writers never wait for each other here; the triggers run at the end of each statement.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The cycle of a changed row, from its values (``{row}`` is NEW or OLD on SQLite, a transition table's
# alias on PostgreSQL) and, where the table has no cycle_id, from its parent rows.
CYCLE_OF = {
    "proposals": ("{row}.cycle_id", ""),
    "panels": ("{row}.cycle_id", ""),
    "panel_proposals": ("{row}.cycle_id", ""),
    "panel_members": ("pa.cycle_id", "JOIN panels pa ON pa.id = {row}.panel_id"),
    "conflicts": ("p.cycle_id", "JOIN proposals p ON p.id = {row}.proposal_id"),
    "proposal_financials": ("p.cycle_id", "JOIN proposals p ON p.id = {row}.proposal_id"),
    "moderated_scores": ("p.cycle_id", "JOIN proposals p ON p.id = {row}.proposal_id"),
    "scorecards": ("p.cycle_id", "JOIN proposals p ON p.id = {row}.proposal_id"),
    "scorecard_answers": (
        "p.cycle_id",
        "JOIN scorecards s ON s.id = {row}.scorecard_id JOIN proposals p ON p.id = s.proposal_id",
    ),
}
EVENTS = ("INSERT", "UPDATE", "DELETE")
# What a ranking reads of each table: an UPDATE that changes none of these (a scorecard's version, a
# proposal's summary, an answer saved again as it was) leaves every ranking as it was and moves nothing.
READ = {
    "proposals": ("id", "cycle_id", "status", "reference", "title", "capability", "kind", "proposer_id"),
    "panels": ("id", "cycle_id"),
    "panel_proposals": ("panel_id", "proposal_id", "cycle_id"),
    "panel_members": ("panel_id", "user_id"),
    "conflicts": ("proposal_id", "user_id"),
    "proposal_financials": ("proposal_id", "year", "cost", "saving"),
    "moderated_scores": ("proposal_id", "principle_number", "score", "not_applicable"),
    "scorecards": ("id", "proposal_id", "scorer_id", "status"),
    "scorecard_answers": ("scorecard_id", "principle_number", "score", "not_applicable"),
}


def _sqlite_cycle(table: str, row: str) -> str:
    column, joins = CYCLE_OF[table]
    if not joins:
        return f"SELECT {row}.{column.split('.')[1]} AS c"
    # SQLite triggers cannot join NEW/OLD as tables: the parent rows are looked up by key.
    if table == "panel_members":
        return f"SELECT cycle_id AS c FROM panels WHERE id = {row}.panel_id"
    if table == "scorecard_answers":
        return (
            "SELECT p.cycle_id AS c FROM scorecards s JOIN proposals p ON p.id = s.proposal_id "
            f"WHERE s.id = {row}.scorecard_id"
        )
    return f"SELECT cycle_id AS c FROM proposals WHERE id = {row}.proposal_id"


def _sqlite_upgrade() -> None:
    for table in CYCLE_OF:
        for event in EVENTS:
            if event == "INSERT":
                cycles = _sqlite_cycle(table, "NEW")
            elif event == "DELETE":
                cycles = _sqlite_cycle(table, "OLD")
            else:
                cycles = f"{_sqlite_cycle(table, 'OLD')} UNION {_sqlite_cycle(table, 'NEW')}"
            on = f"{event} ON {table}"
            if event == "UPDATE":
                changed = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in READ[table])
                on = f"UPDATE OF {', '.join(READ[table])} ON {table} FOR EACH ROW WHEN {changed}"
            else:
                on += " FOR EACH ROW"
            op.execute(
                f"CREATE TRIGGER ranking_changed_{table}_{event.lower()} AFTER {on} BEGIN "
                "INSERT INTO ranking_revisions (cycle_id, slot, revision) "
                f"SELECT c, 0, random() FROM ({cycles}) AS changed WHERE c IS NOT NULL "
                "ON CONFLICT (cycle_id, slot) DO UPDATE SET revision = excluded.revision; END"
            )


PG_BUMP = """
CREATE FUNCTION ranking_revision_bump(cycles integer[]) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    c integer;
    taken integer;
BEGIN
    FOREACH c IN ARRAY cycles LOOP
        -- A slot of the cycle that no other transaction holds (this one's own, or a free one).
        UPDATE ranking_revisions SET revision = nextval('ranking_revision_seq')
        WHERE cycle_id = c AND slot = (
            SELECT r.slot FROM ranking_revisions r WHERE r.cycle_id = c
            ORDER BY r.slot LIMIT 1 FOR UPDATE SKIP LOCKED
        );
        IF NOT FOUND THEN
            -- Every slot is held by a transaction still running: a new slot of this transaction's own.
            LOOP
                SELECT coalesce(max(r.slot), -1) + 1 + (txid_current() % 16)::integer INTO taken
                FROM ranking_revisions r WHERE r.cycle_id = c;
                INSERT INTO ranking_revisions (cycle_id, slot, revision)
                VALUES (c, taken, nextval('ranking_revision_seq'))
                ON CONFLICT (cycle_id, slot) DO NOTHING;
                EXIT WHEN FOUND;
            END LOOP;
        END IF;
    END LOOP;
END
$$
"""


def _pg_cycles(table: str, row: str) -> str:
    column, joins = CYCLE_OF[table]
    return f"SELECT {column.format(row=row)} FROM {row} {joins.format(row=row)}"


def _pg_upgrade() -> None:
    op.execute("CREATE SEQUENCE ranking_revision_seq")
    op.execute(PG_BUMP)
    for table in CYCLE_OF:
        new, old = _pg_cycles(table, "new_rows"), _pg_cycles(table, "old_rows")
        cols = ", ".join(READ[table])
        changed_new = _pg_cycles(table, "new_rows").replace(
            "FROM new_rows", f"FROM (SELECT {cols} FROM new_rows EXCEPT SELECT {cols} FROM old_rows) new_rows"
        )
        changed_old = _pg_cycles(table, "old_rows").replace(
            "FROM old_rows", f"FROM (SELECT {cols} FROM old_rows EXCEPT SELECT {cols} FROM new_rows) old_rows"
        )
        op.execute(
            f"""
CREATE FUNCTION ranking_changed_{table}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM ranking_revision_bump(ARRAY(SELECT DISTINCT c FROM ({new}) AS t (c) WHERE c IS NOT NULL ORDER BY c));
    ELSIF TG_OP = 'UPDATE' THEN
        -- only the rows whose read columns changed, before and after
        PERFORM ranking_revision_bump(ARRAY(
            SELECT c FROM ({changed_new} UNION {changed_old}) AS t (c) WHERE c IS NOT NULL ORDER BY c));
    ELSE
        PERFORM ranking_revision_bump(ARRAY(SELECT DISTINCT c FROM ({old}) AS t (c) WHERE c IS NOT NULL ORDER BY c));
    END IF;
    RETURN NULL;
END
$$
"""
        )
        for event, referencing in (
            ("INSERT", "NEW TABLE AS new_rows"),
            ("UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
            ("DELETE", "OLD TABLE AS old_rows"),
        ):
            op.execute(
                f"CREATE TRIGGER ranking_changed_{event.lower()} AFTER {event} ON {table} "
                f"REFERENCING {referencing} FOR EACH STATEMENT EXECUTE FUNCTION ranking_changed_{table}()"
            )


def upgrade() -> None:
    with op.batch_alter_table("panel_proposals", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_panel_proposals_proposal_id"), ["proposal_id"], unique=False)
    op.create_table(
        "ranking_revisions",
        sa.Column("cycle_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("slot", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("cycle_id", "slot", name=op.f("pk_ranking_revisions")),
    )
    if op.get_bind().dialect.name == "postgresql":
        _pg_upgrade()
    else:
        _sqlite_upgrade()


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in CYCLE_OF:
            for event in EVENTS:
                op.execute(f"DROP TRIGGER ranking_changed_{event.lower()} ON {table}")
            op.execute(f"DROP FUNCTION ranking_changed_{table}()")
        op.execute("DROP FUNCTION ranking_revision_bump(integer[])")
        op.execute("DROP SEQUENCE ranking_revision_seq")
    else:
        for table in CYCLE_OF:
            for event in EVENTS:
                op.execute(f"DROP TRIGGER ranking_changed_{table}_{event.lower()}")
    op.drop_table("ranking_revisions")
    with op.batch_alter_table("panel_proposals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_panel_proposals_proposal_id"))
