from __future__ import annotations

from sqlalchemy import BigInteger, Integer
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class RankingRevision(Base):
    """Where a cycle's rankings stand: written only by database triggers (revision 0009), read by the
    ranking cache (:mod:`app.rankings.cache`).

    Every statement that changes what a cycle's rankings are computed from (its proposals, their money,
    panels, members, conflicts, scorecards, answers and moderated scores) sets one of the cycle's slots to
    a value never used before, in the same transaction. The cycle's slots, read together, therefore change
    with every committed change and never come back to an earlier state, so they key a cached ranking
    safely across every instance sharing the database. On PostgreSQL a writer takes a slot no other
    transaction holds (``SKIP LOCKED``), so concurrent scorecard writers never queue on one row; SQLite
    has one writer at a time and one slot.
    """

    __tablename__ = "ranking_revisions"

    cycle_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    slot: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    revision: Mapped[int] = mapped_column(BigInteger)
