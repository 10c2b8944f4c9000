from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, UTCDateTime, utcnow


class UserMfa(Base):
    """A user's TOTP second factor. The secret is stored encrypted (Fernet, with a key derived from the
    service's secret key) and is never shown again once enrolment is confirmed. ``confirmed_at`` is empty
    while enrolment waits for its first code; ``last_used_step`` is the TOTP time step last accepted, so
    that no code is accepted twice; ``failures`` counts wrong codes in a row (reset by a right one)."""

    __tablename__ = "user_mfa"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    secret_sealed: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_used_step: Mapped[int | None] = mapped_column(Integer, nullable=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class MfaRecoveryCode(Base):
    """One single-use recovery code, stored only as a keyed digest; ``used_at`` is set when it is used."""

    __tablename__ = "mfa_recovery_codes"
    __table_args__ = (UniqueConstraint("digest"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    digest: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class MfaChallenge(Base):
    """A web sign-in waiting for its second factor: the password was right, no session exists yet. The
    browser holds a random id in a cookie of its own (stored here as a keyed digest); the challenge lasts
    a few minutes and allows a few codes. ``purpose`` is ``verify`` (enter a code) or ``enrol`` (the role
    needs a second factor and the user has none yet: set one up first)."""

    __tablename__ = "mfa_challenges"
    __table_args__ = (CheckConstraint("purpose IN ('verify', 'enrol')", name="purpose_known"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(10))
    next_path: Mapped[str] = mapped_column(String(2000))
    csrf_token: Mapped[str] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
