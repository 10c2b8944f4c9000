"""Multi-factor sign-in: TOTP (RFC 6238) second factors and single-use recovery codes.

- **Secret**: 160 random bits (base32), shown once while enrolling (as a QR code and as text) and stored
  encrypted with Fernet under a key derived from ``SERR_SECRET_KEY``; once enrolment is confirmed it is
  never shown or returned again. Changing the secret key makes every enrolment unreadable: admins then
  reset them (``DELETE /api/v1/users/{id}/mfa``) and the users enrol again.
- **Enrolment** is confirmed only by a valid current code; until then the second factor is not in force.
- **Codes**: 6 digits, 30-second steps, one step either side accepted for clock drift. A code accepted
  once is never accepted again: the last accepted step is stored and only a later step passes, written
  with a conditional update so that two requests racing with one code cannot both win.
- **Recovery codes**: 10 random codes of 10 characters (50 bits each), shown once at enrolment or when
  regenerated (which replaces them all), stored only as keyed digests, each usable once.
- **Wrong codes**: every code check of a user counts wrong codes in a row; from ``MAX_FAILURES`` on, codes
  are refused unchecked for ``FAILURE_PAUSE`` after the last one (429 with ``Retry-After``). A right code
  resets the count. Sign-in code checks are also counted by the sign-in throttle (app/auth/throttle.py).
- **Required roles**: ``SERR_MFA_REQUIRED_ROLES`` (``Settings.roles_needing_mfa``). Any user may enrol.

Audit events (never the secret or a code): ``mfa.enrolment_started``, ``mfa.enrolled``, ``mfa.verified``
(with the factor used), ``mfa.failed`` (with the reason), ``mfa.recovery_codes_regenerated``,
``mfa.disabled`` and ``mfa.reset`` (by an admin).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

import pyotp
import segno
from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from app.audit.service import record
from app.config import Settings
from app.errors import Conflict, ServiceError, ValidationFailed, field_error
from app.models import MfaRecoveryCode, User, UserMfa

ISSUER = "SE&RR"
STEP_SECONDS = 30
DIGITS = 6
DRIFT_STEPS = 1
RECOVERY_CODE_COUNT = 10
RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i
RECOVERY_LENGTH = 10
MAX_FAILURES = 5
FAILURE_PAUSE = timedelta(minutes=15)

Factor = Literal["totp", "recovery"]


def now() -> datetime:
    """The clock codes are checked against (tests move it instead of sleeping)."""
    return datetime.now(UTC)


# Errors


class WrongCode(ValidationFailed):
    """A code that is not right (or was used already). ``reason`` is for the audit trail only."""

    def __init__(self, reason: str, field: str = "code") -> None:
        super().__init__(
            "The code is not right. Enter the current 6-digit code from your authenticator app, or one of "
            "your recovery codes.",
            errors=[field_error(["body", field], "Incorrect or already used code.", "mfa_code")],
        )
        self.reason = reason


class TooManyCodes(ServiceError):
    status, title, type_slug = 429, "Too many wrong codes", "too-many-wrong-codes"

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            f"Too many wrong codes in a row. Wait {math.ceil(retry_after / 60)} minutes, then try again.",
            headers={"Retry-After": str(retry_after)},
        )
        self.retry_after = retry_after


class NotEnrolled(Conflict):
    type_slug = "mfa-not-enrolled"

    def __init__(self, detail: str = "You have no second factor set up.") -> None:
        super().__init__(detail)


class AlreadyEnrolled(Conflict):
    type_slug = "mfa-already-enrolled"

    def __init__(self) -> None:
        super().__init__(
            "You already have a second factor. To move it to a new device, turn it off (with a current "
            "code) and set it up again."
        )


# The secret: generated, sealed, shown


def _fernet(settings: Settings) -> Fernet:
    key = hmac.new(settings.secret_key.encode(), b"serr mfa secret v1", hashlib.sha256).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def seal(settings: Settings, secret: str) -> str:
    return _fernet(settings).encrypt(secret.encode()).decode()


def unseal(settings: Settings, sealed: str) -> str | None:
    """The secret, or None when it cannot be read (the secret key changed since it was sealed)."""
    try:
        return _fernet(settings).decrypt(sealed.encode()).decode()
    except InvalidToken:
        return None


def provisioning_uri(secret: str, email: str) -> str:
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).provisioning_uri(
        name=email, issuer_name=ISSUER
    )


def qr_svg(uri: str) -> str:
    """The otpauth URI as an inline SVG QR code: presentation attributes only, no style, no script."""
    return segno.make(uri, error="m").svg_inline(
        scale=5, border=4, dark="#000", light="#fff", title="QR code to add this account to your app"
    )


def grouped(secret: str) -> str:
    """The secret in groups of four, easier to type (apps ignore the spaces)."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


# State


def is_required(settings: Settings, user: User) -> bool:
    return user.has_role(*settings.roles_needing_mfa)


def row_of(session: Session, user_id: int) -> UserMfa | None:
    return session.get(UserMfa, user_id, populate_existing=True)


def is_enrolled(session: Session, user_id: int) -> bool:
    return session.scalar(select(UserMfa.confirmed_at).where(UserMfa.user_id == user_id)) is not None


@dataclass(frozen=True)
class Status:
    enrolled: bool
    required: bool
    confirmed_at: datetime | None
    enrolment_pending: bool
    recovery_codes_left: int


def status(session: Session, settings: Settings, user: User) -> Status:
    row = row_of(session, user.id)
    left = session.scalar(
        select(func.count())
        .select_from(MfaRecoveryCode)
        .where(MfaRecoveryCode.user_id == user.id, MfaRecoveryCode.used_at.is_(None))
    )
    confirmed = row.confirmed_at if row else None
    return Status(
        enrolled=confirmed is not None,
        required=is_required(settings, user),
        confirmed_at=confirmed,
        enrolment_pending=row is not None and confirmed is None,
        recovery_codes_left=int(left or 0) if confirmed else 0,
    )


# Enrolment


def begin(session: Session, settings: Settings, user: User) -> str:
    """A new secret for ``user`` (replacing an unconfirmed one); not in force until confirmed."""
    row = row_of(session, user.id)
    if row is not None and row.confirmed_at is not None:
        raise AlreadyEnrolled()
    secret = pyotp.random_base32()
    if row is None:
        session.add(UserMfa(user_id=user.id, secret_sealed=seal(settings, secret), failures=0))
    else:
        row.secret_sealed, row.created_at, row.failures, row.last_failure_at = (
            seal(settings, secret),
            now(),
            0,
            None,
        )
    session.flush()
    record(session, user, "mfa.enrolment_started", "user", user.id, outcome="success")
    return secret


def pending_secret(session: Session, settings: Settings, user: User) -> str | None:
    """The secret of an enrolment not confirmed yet (shown again until it is), or None."""
    row = row_of(session, user.id)
    if row is None or row.confirmed_at is not None:
        return None
    return unseal(settings, row.secret_sealed)


def confirm(session: Session, settings: Settings, user: User, code: str) -> list[str]:
    """Confirm enrolment with a current code; the new recovery codes (shown once)."""
    row = row_of(session, user.id)
    if row is None:
        raise NotEnrolled("Start setting up a second factor first: there is no enrolment to confirm.")
    if row.confirmed_at is not None:
        raise AlreadyEnrolled()
    _not_paused(row)
    secret = unseal(settings, row.secret_sealed)
    step = _matching_step(secret, code) if secret else None
    if step is None:
        raise _failed(session, user, row, "wrong code at enrolment")
    row.confirmed_at, row.last_used_step, row.failures, row.last_failure_at = now(), step, 0, None
    codes = _new_recovery_codes(session, settings, user)
    record(session, user, "mfa.enrolled", "user", user.id, outcome="success")
    return codes


# Checking a code


def _step_at(at: datetime) -> int:
    return int(at.timestamp()) // STEP_SECONDS


def _matching_step(secret: str, code: str) -> int | None:
    """The time step (within the drift allowed) whose code this is, or None."""
    code = code.strip().replace(" ", "")
    if len(code) != DIGITS or not code.isascii() or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS)
    current = _step_at(now())
    for step in range(current + DRIFT_STEPS, current - DRIFT_STEPS - 1, -1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def _normal_recovery(code: str) -> str | None:
    clean = "".join(code.split()).replace("-", "").lower()
    if len(clean) != RECOVERY_LENGTH or any(c not in RECOVERY_ALPHABET for c in clean):
        return None
    return clean


def _recovery_digest(settings: Settings, user_id: int, clean: str) -> str:
    message = f"mfa-recovery:{user_id}:{clean}".encode()
    return hmac.new(settings.secret_key.encode(), message, hashlib.sha256).hexdigest()


def _not_paused(row: UserMfa) -> None:
    if row.failures >= MAX_FAILURES and row.last_failure_at is not None:
        wait = (row.last_failure_at + FAILURE_PAUSE - now()).total_seconds()
        if wait > 0:
            raise TooManyCodes(max(1, math.ceil(wait)))


def _failed(session: Session, user: User | int, row: UserMfa, reason: str) -> WrongCode:
    """Count and audit a wrong code (in the caller's unit of work, which must still commit)."""
    row.failures, row.last_failure_at = row.failures + 1, now()
    user_id = user if isinstance(user, int) else user.id
    actor = None if isinstance(user, int) else user
    record(session, actor, "mfa.failed", "user", user_id, changes={"reason": reason}, outcome="failure")
    return WrongCode(reason)


def check_code(session: Session, settings: Settings, user_id: int, code: str, *, purpose: str) -> Factor:
    """Check a TOTP code or a recovery code of an enrolled user; which one it was.

    A wrong one is counted and audited in ``session`` and ``WrongCode`` is raised: the caller must commit
    the session anyway (see ``app.auth.mfa_endpoints``) so that the count and the record are kept."""
    row = row_of(session, user_id)
    if row is None or row.confirmed_at is None:
        raise NotEnrolled()
    try:
        _not_paused(row)
    except TooManyCodes as exc:
        record(
            session,
            None,
            "mfa.failed",
            "user",
            user_id,
            changes={"reason": "too many wrong codes", "purpose": purpose, "retry_after": exc.retry_after},
            outcome="denied",
        )
        raise
    secret = unseal(settings, row.secret_sealed)
    if secret is None:
        raise _failed(session, user_id, row, "secret unreadable (the secret key changed): admin reset needed")
    factor: Factor
    step = _matching_step(secret, code)
    if step is not None:
        # Only a later step than the last accepted one wins, atomically: a replayed code never does.
        won = session.execute(
            update(UserMfa)
            .where(
                UserMfa.user_id == user_id,
                or_(UserMfa.last_used_step.is_(None), UserMfa.last_used_step < step),
            )
            .values(last_used_step=step, failures=0, last_failure_at=None)
            .execution_options(synchronize_session=False)
        ).rowcount
        if not won:
            raise _failed(session, user_id, row, f"code already used ({purpose})")
        factor = "totp"
    else:
        clean = _normal_recovery(code)
        used = None
        if clean is not None:
            used = session.execute(
                update(MfaRecoveryCode)
                .where(
                    MfaRecoveryCode.user_id == user_id,
                    MfaRecoveryCode.digest == _recovery_digest(settings, user_id, clean),
                    MfaRecoveryCode.used_at.is_(None),
                )
                .values(used_at=now())
                .execution_options(synchronize_session=False)
            ).rowcount
        if not used:
            raise _failed(session, user_id, row, f"wrong code ({purpose})")
        session.execute(
            update(UserMfa)
            .where(UserMfa.user_id == user_id)
            .values(failures=0, last_failure_at=None)
            .execution_options(synchronize_session=False)
        )
        factor = "recovery"
    session.expire(row)
    changes = {"factor": factor, "purpose": purpose}
    if factor == "recovery":
        changes["recovery_codes_left"] = recovery_codes_left(session, user_id)
    record(session, None, "mfa.verified", "user", user_id, changes=changes, outcome="success")
    return factor


def recovery_codes_left(session: Session, user_id: int) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(MfaRecoveryCode)
            .where(MfaRecoveryCode.user_id == user_id, MfaRecoveryCode.used_at.is_(None))
        )
        or 0
    )


# Recovery codes, turning off, admin reset


def _new_recovery_codes(session: Session, settings: Settings, user: User) -> list[str]:
    session.execute(delete(MfaRecoveryCode).where(MfaRecoveryCode.user_id == user.id))
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        clean = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_LENGTH))
        session.add(MfaRecoveryCode(user_id=user.id, digest=_recovery_digest(settings, user.id, clean)))
        codes.append(f"{clean[:5]}-{clean[5:]}")
    session.flush()
    return codes


def regenerate_recovery_codes(session: Session, settings: Settings, user: User, code: str) -> list[str]:
    """New recovery codes, replacing every earlier one; needs a current code."""
    check_code(session, settings, user.id, code, purpose="regenerate recovery codes")
    codes = _new_recovery_codes(session, settings, user)
    record(session, user, "mfa.recovery_codes_regenerated", "user", user.id, outcome="success")
    return codes


def _remove(session: Session, user_id: int) -> None:
    session.execute(delete(MfaRecoveryCode).where(MfaRecoveryCode.user_id == user_id))
    session.execute(delete(UserMfa).where(UserMfa.user_id == user_id))


def disable(session: Session, settings: Settings, user: User, code: str) -> None:
    """Turn one's own second factor off; needs a current code (or a recovery code)."""
    factor = check_code(session, settings, user.id, code, purpose="turn off")
    _remove(session, user.id)
    record(session, user, "mfa.disabled", "user", user.id, changes={"factor": factor}, outcome="success")


def reset(session: Session, admin: User | None, user: User) -> None:
    """An admin (or, with no actor, ``serr reset-mfa``) removes a user's second factor (a lost device);
    the user enrols again."""
    row = row_of(session, user.id)
    if row is None:
        raise NotEnrolled(f"{user.email} has no second factor set up.")
    _remove(session, user.id)
    record(
        session,
        admin,
        "mfa.reset",
        "user",
        user.id,
        changes={
            "email": user.email,
            "was_confirmed": row.confirmed_at is not None,
            "by": "admin" if admin is not None else "command line",
        },
        outcome="success",
    )
