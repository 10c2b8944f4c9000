"""Sign-in throttling that holds across instances: failed sign-ins counted in the database.

Two counters are kept in ``auth_throttles`` for every failed sign-in (``POST /api/v1/auth/token`` and the
web ``POST /login``): one for the account (the lower-cased email, whether or not such an account exists,
so that the answers never tell) and one for the client address. Every instance of the service on the
same database reads and writes the same rows, so the limits hold however many instances there are.

- **Back-off** (account): from ``throttle_backoff_after`` failures within the window, the next attempt
  is not even checked until 1, 2, 4, 8 … seconds (at most ``throttle_backoff_max_seconds``) after the
  last failure.
- **Lock** (account): ``throttle_lock_after`` failures within the window lock the account for
  ``throttle_lock_minutes`` (at most an hour). Attempts refused while it waits do not count, so nobody
  can keep a colleague locked out by trying on: the lock ends when it says, and an admin can lift it.
- **Address lock**: ``throttle_address_lock_after`` failures from one address within the window lock
  that address for ``throttle_address_lock_minutes``. Looser than the account's, it sits in front: one
  address can lock only a handful of accounts before it is itself stopped.

The throttle is checked *before* the password (a refusal costs no argon2 and says nothing about the
password), with a short read; the failure is counted *after* it, in a short write of its own, by one
atomic ``INSERT … ON CONFLICT DO UPDATE`` per counter so that concurrent failures on any instance are
all counted. No transaction is open while the password is checked. A successful sign-in clears the
account's counter, not the address's: signing in to one's own account must not reset the count of
guesses made at others from the same address.

Every failure is audited with its reason (never the password), as is every refusal, lock and lift.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Literal

from fastapi import Request
from sqlalchemy import and_, case, delete, func, literal, or_, select, tuple_
from sqlalchemy.orm import Session

from app.audit.service import record
from app.config import Settings
from app.db import dialect_insert
from app.deps import client_address
from app.errors import NotAuthenticated, NotFound, ServiceError
from app.models import User
from app.models.base import UTCDateTime
from app.models.throttle import AuthThrottle
from app.pagination import PageParams, paginate
from app.types import is_single_line

if TYPE_CHECKING:
    from app.db import Database

ACCOUNT, ADDRESS = "account", "address"
Scope = Literal["account", "address"]
KEY_MAX = 320


def now() -> datetime:
    """The throttle's clock (tests move it forward instead of sleeping)."""
    return datetime.now(UTC)


class SignInFailed(NotAuthenticated):
    """A refused email and password: the same answer whatever the reason, which is kept for the audit."""

    def __init__(self, reason: str, user_id: int | None) -> None:
        super().__init__("Incorrect email or password.")
        self.reason, self.user_id = reason, user_id


class TooManySignIns(ServiceError):
    status, title, type_slug = 429, "Too many sign-in attempts", "too-many-sign-ins"

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            "Too many failed sign-ins for this account or from this address. "
            f"Wait {_plain_duration(retry_after)}, then try again; an admin can lift the lock sooner.",
            headers={"Retry-After": str(retry_after)},
        )
        self.retry_after = retry_after


def _plain_duration(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds} second{'s' * (seconds != 1)}"
    minutes = math.ceil(seconds / 60)
    return f"{minutes} minute{'s' * (minutes != 1)}"


def account_key(email: str) -> str:
    """The account's counter key: the email as sign-in matches it (trimmed, lower-cased). What no account's
    email could be (too long, or holding control characters) is keyed by its digest instead."""
    key = email.strip().lower()
    if len(key) > KEY_MAX or not is_single_line(key):
        key = "sha256:" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
    return key


@dataclass(frozen=True)
class Attempt:
    """One sign-in attempt: whose account, from where, through which door."""

    account: str
    address: str | None
    via: Literal["api", "web"]
    request_id: str | None

    @classmethod
    def of(cls, request: Request, email: str, via: Literal["api", "web"]) -> Attempt:
        address = client_address(request)
        return cls(
            account=account_key(email),
            address=address[:64] if address else None,
            via=via,
            request_id=request.headers.get("x-request-id"),
        )

    @property
    def failed_action(self) -> str:
        return "auth.login_failed" if self.via == "api" else "auth.web_login_failed"

    def counters(self) -> list[tuple[str, str]]:
        return [(ACCOUNT, self.account)] + ([(ADDRESS, self.address)] if self.address else [])


def wait_seconds(settings: Settings, row: AuthThrottle, at: datetime) -> float:
    """How long from ``at`` until the next attempt on this counter is checked (0: now)."""
    wait = 0.0
    if row.locked_until is not None and row.locked_until > at:
        wait = (row.locked_until - at).total_seconds()
    window = timedelta(minutes=settings.throttle_window_minutes)
    current = row.first_failure_at is not None and row.first_failure_at >= at - window
    over = row.failures - settings.throttle_backoff_after
    if row.scope == ACCOUNT and current and over >= 0 and row.last_failure_at is not None:
        delay = min(2 ** min(over, 30), settings.throttle_backoff_max_seconds)
        wait = max(wait, (row.last_failure_at + timedelta(seconds=delay) - at).total_seconds())
    return wait


def check(db: Database, settings: Settings, attempt: Attempt) -> None:
    """Refuse (429, audited) an attempt whose account or address must still wait; before the password."""
    at = now()
    wanted = [and_(AuthThrottle.scope == s, AuthThrottle.key == k) for s, k in attempt.counters()]
    with db.unit_of_work(write=False) as session:
        rows = list(session.scalars(select(AuthThrottle).where(or_(*wanted))))
    wait = max((wait_seconds(settings, row, at) for row in rows), default=0.0)
    if wait <= 0:
        return
    retry_after = max(1, math.ceil(wait))
    with db.unit_of_work(request_id=attempt.request_id, client_address=attempt.address) as session:
        _audit_failure(session, attempt, "throttled", None, "denied", retry_after=retry_after)
    raise TooManySignIns(retry_after)


def _count(session: Session, settings: Settings, scope: str, key: str, at: datetime) -> tuple[int, bool]:
    """Count one failure on a counter, atomically; (failures in the window, whether it is now locked)."""
    lock_after, minutes = (
        (settings.throttle_lock_after, settings.throttle_lock_minutes)
        if scope == ACCOUNT
        else (settings.throttle_address_lock_after, settings.throttle_address_lock_minutes)
    )
    lock_until = at + timedelta(minutes=minutes)
    window_start = at - timedelta(minutes=settings.throttle_window_minutes)
    table = AuthThrottle.__table__.c
    # A counter whose window has passed starts again from this failure.
    stale = or_(table.first_failure_at.is_(None), table.first_failure_at < window_start)
    failures = case((stale, 1), else_=table.failures + 1)
    stmt = dialect_insert(session, AuthThrottle).values(
        scope=scope,
        key=key,
        failures=1,
        first_failure_at=at,
        last_failure_at=at,
        locked_until=lock_until if lock_after <= 1 else None,
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=[table.scope, table.key],
        set_={
            "failures": failures,
            "first_failure_at": case((stale, literal(at, UTCDateTime())), else_=table.first_failure_at),
            "last_failure_at": stmt.excluded.last_failure_at,
            "locked_until": case(
                (failures >= lock_after, literal(lock_until, UTCDateTime())), else_=table.locked_until
            ),
        },
    ).returning(table.failures)
    counted = session.execute(stmt).scalar_one()
    return counted, counted >= lock_after


def count_failure(db: Database, settings: Settings, attempt: Attempt, failed: SignInFailed) -> None:
    """Count a refused password on the account and the address, in one short write, and audit it (and a
    lock it causes)."""
    at = now()
    with db.unit_of_work(request_id=attempt.request_id, client_address=attempt.address) as session:
        _audit_failure(session, attempt, failed.reason, failed.user_id, "failure")
        for scope, key in attempt.counters():
            failures, locked = _count(session, settings, scope, key, at)
            if scope == ACCOUNT and failures == 1:  # a new counter: clear out some that no longer count
                purge(session, settings, at)
            if locked:
                row = session.get(AuthThrottle, (scope, key), populate_existing=True)
                record(
                    session,
                    None,
                    "auth.locked",
                    "auth_throttle",
                    f"{scope}:{key}"[:64],
                    changes={
                        "scope": scope,
                        "key": key,
                        "failures": failures,
                        "locked_until": row.locked_until.isoformat() if row and row.locked_until else None,
                        "via": attempt.via,
                    },
                    outcome="denied",
                )


PURGE_BATCH = 100


def purge(session: Session, settings: Settings, at: datetime) -> int:
    """Delete up to ``PURGE_BATCH`` counters that no longer count (their window has passed and any lock
    has ended: the next failure would start them again from one, just as if they were absent), oldest
    first, so that emails tried once and never again do not pile up. Rows another transaction holds are
    skipped (PostgreSQL), so this never waits on, or deadlocks with, a concurrent sign-in."""
    window_start = at - timedelta(minutes=settings.throttle_window_minutes)
    dead = (
        select(AuthThrottle.scope, AuthThrottle.key)
        .where(
            AuthThrottle.last_failure_at < window_start,
            or_(AuthThrottle.locked_until.is_(None), AuthThrottle.locked_until <= at),
        )
        .order_by(AuthThrottle.last_failure_at)
        .limit(PURGE_BATCH)
    )
    if session.get_bind().dialect.name == "postgresql":
        dead = dead.with_for_update(skip_locked=True)
    keys = [tuple(row) for row in session.execute(dead)]
    if keys:
        session.execute(
            delete(AuthThrottle)
            .where(tuple_(AuthThrottle.scope, AuthThrottle.key).in_(keys))
            .execution_options(synchronize_session=False)
        )
    return len(keys)


def _audit_failure(
    session: Session, attempt: Attempt, reason: str, user_id: int | None, outcome: str, **more
) -> None:
    if user_id is None and not attempt.account.startswith("sha256:"):
        user_id = session.scalar(select(User.id).where(func.lower(User.email) == attempt.account))
    entity = ("user", user_id) if user_id is not None else ("sign_in", attempt.account[:64])
    changes = {"reason": reason, "email": attempt.account, **more}
    record(session, None, attempt.failed_action, *entity, changes=changes, outcome=outcome)


@contextmanager
def guard(db: Database, settings: Settings, attempt: Attempt) -> Iterator[None]:
    """Around the password check: refuse first if the attempt must wait, count the failure after."""
    check(db, settings, attempt)
    try:
        yield
    except SignInFailed as failed:
        count_failure(db, settings, attempt, failed)
        raise


def succeeded(session: Session, attempt: Attempt) -> None:
    """A successful sign-in clears its account's counter (in the sign-in's own write)."""
    session.execute(
        delete(AuthThrottle).where(AuthThrottle.scope == ACCOUNT, AuthThrottle.key == attempt.account)
    )


# Admins: see and lift locks.


def current(
    session: Session, settings: Settings, page: PageParams, *, scope: Scope | None, locked_only: bool
) -> tuple[list[AuthThrottle], int]:
    """The counters that matter now: locked, or with failures inside the window; locked first."""
    at = now()
    locked = AuthThrottle.locked_until > at
    in_window = AuthThrottle.first_failure_at >= at - timedelta(minutes=settings.throttle_window_minutes)
    stmt = select(AuthThrottle).where(locked if locked_only else or_(locked, in_window))
    if scope is not None:
        stmt = stmt.where(AuthThrottle.scope == scope)
    stmt = stmt.order_by(
        case((locked, 0), else_=1), AuthThrottle.last_failure_at.desc(), AuthThrottle.scope, AuthThrottle.key
    )
    return paginate(session, stmt, page)


def lift(session: Session, actor: User, scope: Scope, key: str) -> AuthThrottle:
    """Lift a lock and clear its counter (admin); audited. Not found when nothing is counted there."""
    key = account_key(key) if scope == ACCOUNT else key.strip()
    row = session.get(AuthThrottle, (scope, key)) if len(key) <= KEY_MAX and is_single_line(key) else None
    if row is None:
        raise NotFound(f"No failed sign-ins are counted for {scope} {key!r}.")
    before = {
        "scope": row.scope,
        "key": row.key,
        "failures": row.failures,
        "locked_until": row.locked_until.isoformat() if row.locked_until else None,
        "was_locked": row.locked_until is not None and row.locked_until > now(),
    }
    session.delete(row)
    session.flush()
    record(
        session,
        actor,
        "auth.unlocked",
        "auth_throttle",
        f"{scope}:{key}"[:64],
        changes=before,
        outcome="success",
    )
    return row
