from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, UTCDateTime


class AuthThrottle(Base):
    """Failed sign-ins per account (lower-cased email) and per client address, kept in the database so
    that every instance of the service sharing it counts the same failures and honours the same locks."""

    __tablename__ = "auth_throttles"
    __table_args__ = (
        CheckConstraint("scope IN ('account', 'address')", name="scope_known"),
        Index("ix_auth_throttles_locked_until", "locked_until"),
        # Finds the counters that no longer count, to clear them out (app/auth/throttle.py ``purge``).
        Index("ix_auth_throttles_last_failure_at", "last_failure_at"),
    )

    scope: Mapped[str] = mapped_column(String(10), primary_key=True)
    key: Mapped[str] = mapped_column(String(320), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    first_failure_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_failure_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
