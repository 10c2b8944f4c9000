"""Users, roles and tokens."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from app.audit.service import diff, record
from app.auth import passwords, throttle
from app.auth.security import hash_password, new_token, token_digest, verify_password
from app.auth.throttle import SignInFailed
from app.config import Settings
from app.errors import (
    Conflict,
    FreshSignInRequired,
    NotAuthenticated,
    NotFound,
    ValidationFailed,
    field_error,
)
from app.models import ApiToken, User, UserRole, WebSession
from app.pagination import PageParams, paginate
from app.types import is_single_line
from app.users.schemas import PasswordChange, TokenCreate, UserCreate, UserUpdate

if TYPE_CHECKING:
    from app.db import Database


def snapshot(user: User) -> dict[str, Any]:
    return {
        "email": user.email,
        "full_name": user.full_name,
        "roles": user.roles,
        "is_active": user.is_active,
    }


def get_user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"User {user_id} does not exist.")
    return user


def create_user(session: Session, settings: Settings, actor: User | None, data: UserCreate) -> User:
    email = str(data.email).lower()
    if session.scalar(select(User.id).where(func.lower(User.email) == email)) is not None:
        raise Conflict(
            f"A user with email {email} already exists.",
            errors=[field_error(["body", "email"], "already registered", "unique")],
        )
    user = User(
        email=email,
        full_name=data.full_name,
        password_hash=hash_password(settings, data.password),
        role_rows=[UserRole(role=r.value) for r in data.roles],
    )
    session.add(user)
    session.flush()
    record(session, actor, "user.created", "user", user.id, after=snapshot(user))
    return user


def list_users(
    session: Session, page: PageParams, *, role: str | None, q: str | None, is_active: bool | None
) -> tuple[list[User], int]:
    stmt = select(User).order_by(User.email)
    if role:
        stmt = stmt.where(User.id.in_(select(UserRole.user_id).where(UserRole.role == role)))
    if q:
        like = f"%{q.lower()}%"
        stmt = stmt.where(or_(func.lower(User.email).like(like), func.lower(User.full_name).like(like)))
    if is_active is not None:
        stmt = stmt.where(User.is_active == is_active)
    return paginate(session, stmt, page)


def update_user(session: Session, settings: Settings, actor: User, user: User, data: UserUpdate) -> User:
    if data.version is not None and data.version != user.version:
        raise Conflict(f"User {user.id} is at version {user.version}, not {data.version}; re-read and retry.")
    before = snapshot(user)
    if data.full_name is not None:
        user.full_name = data.full_name
    if data.password is not None:
        # The schema checked the length and the list; the email's name needs the account.
        if (problem := passwords.problem(data.password, email=user.email)) is not None:
            raise ValidationFailed(
                "The password was not set.", errors=[field_error(["body", "password"], problem)]
            )
        user.password_hash = hash_password(settings, data.password)
    if data.is_active is not None:
        if user.id == actor.id and not data.is_active:
            raise ValidationFailed(
                "You cannot deactivate yourself.",
                errors=[field_error(["body", "is_active"], "an admin cannot deactivate their own account")],
            )
        user.is_active = data.is_active
    if data.roles is not None:
        wanted = {r.value for r in data.roles}
        if user.id == actor.id and "admin" not in wanted:
            raise ValidationFailed(
                "You cannot remove your own admin role.",
                errors=[field_error(["body", "roles"], "an admin cannot remove their own admin role")],
            )
        user.role_rows = [r for r in user.role_rows if r.role in wanted] + [
            UserRole(role=r) for r in sorted(wanted - set(user.roles))
        ]
    user.updated_at = datetime.now(UTC)
    session.flush()
    changes = diff(before, snapshot(user))
    if data.password is not None:
        changes["password"] = {"before": "***", "after": "*** (changed)"}
        changes |= sign_out_everywhere(session, user)
        ended = {k: changes[k] for k in ("tokens_revoked", "web_sessions_ended")}
        record(session, actor, "user.password_reset", "user", user.id, changes=ended, outcome="success")
    changes |= end_sessions_on_privilege_change(session, user, changes)
    record(session, actor, "user.updated", "user", user.id, changes=changes)
    return user


def end_sessions_on_privilege_change(session: Session, user: User, changes: dict[str, Any]) -> dict[str, int]:
    """A deactivated account loses every token and web session; an account whose roles changed loses its
    web sessions, so that its next page starts from a new sign-in (and a new session id) with the new
    roles. (API tokens carry no roles: each request is checked against the roles of the moment.)"""
    if "tokens_revoked" in changes:  # already signed out everywhere (a new password)
        return {}
    if "is_active" in changes and not user.is_active:
        return sign_out_everywhere(session, user)
    if "roles" in changes:
        ended = session.execute(delete(WebSession).where(WebSession.user_id == user.id)).rowcount
        return {"web_sessions_ended": ended}
    return {}


def sign_out_user(session: Session, actor: User, user: User) -> dict[str, int]:
    """An admin ends every web session and revokes every live token of ``user``, whose account stays
    active (they sign in again); audited. Not oneself: that would end the request's own token."""
    if user.id == actor.id:
        raise ValidationFailed(
            "You cannot sign yourself out everywhere here.",
            errors=[
                field_error(
                    ["path", "user_id"],
                    "an admin cannot end their own sessions this way; sign out with POST /api/v1/auth/logout",
                )
            ],
        )
    ended = sign_out_everywhere(session, user)
    record(session, actor, "user.signed_out", "user", user.id, changes=ended, outcome="success")
    return ended


def sign_out_everywhere(session: Session, user: User) -> dict[str, int]:
    """Revoke every live API token (sign-in and personal) and end every web session of ``user``.

    Called whenever a password is set, so that whoever knew the old one is locked out."""
    revoked = session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=datetime.now(UTC))
    ).rowcount
    ended = session.execute(delete(WebSession).where(WebSession.user_id == user.id)).rowcount
    return {"tokens_revoked": revoked, "web_sessions_ended": ended}


@dataclass(frozen=True)
class PasswordChecked:
    """An account whose password was just checked, and the hash it was checked against."""

    user_id: int
    password_hash: str


def check_password(db: Database, settings: Settings, email: str, password: str) -> PasswordChecked:
    """The active account with this email and password; the same failure, in the same time, otherwise.

    The account is read in a short read-only unit of work and the password (argon2, ~170 ms) is checked
    after it has ended, with no transaction and no pooled connection held: a flood of wrong passwords
    costs CPU but never holds SQLite's write lock or a connection that writers are waiting for. The
    sign-in itself is then written in a short unit of work of its own (see ``signed_in_user``)."""
    row = None
    address = email.strip().lower()
    # No account's email holds a control character (input refuses them), and PostgreSQL cannot even
    # compare text holding NUL: such an email is simply unknown, checked in the same time as any other.
    if is_single_line(address):
        with db.unit_of_work(write=False) as session:
            row = session.execute(
                select(User.id, User.password_hash, User.is_active).where(func.lower(User.email) == address)
            ).first()
    ok = verify_password(settings, row.password_hash if row else None, password)
    if not ok or row is None or not row.is_active:
        # The same answer whatever went wrong; the reason is for the audit trail (app/auth/throttle.py).
        reason = "unknown account" if row is None else "wrong password" if not ok else "inactive account"
        raise SignInFailed(reason, row.id if row else None)
    return PasswordChecked(row.id, row.password_hash)


def signed_in_user(session: Session, checked: PasswordChecked) -> User:
    """The account of a checked password, read again in the sign-in's write: it must still be active
    and have the password that was checked (a reset or deactivation meanwhile wins)."""
    user = session.get(User, checked.user_id)
    if user is None or not user.is_active or user.password_hash != checked.password_hash:
        raise NotAuthenticated("Incorrect email or password.")
    return user


def login(session: Session, settings: Settings, checked: PasswordChecked) -> tuple[str, int]:
    """A sign-in token for an account whose password ``check_password`` accepted; audited."""
    user = signed_in_user(session, checked)
    lifetime = timedelta(minutes=settings.access_token_minutes)
    token = _issue(session, settings, user, "access", "sign-in", lifetime)[1]
    record(session, user, "auth.login", "user", user.id, outcome="success")
    return token, int(lifetime.total_seconds())


def _issue(
    session: Session, settings: Settings, user: User, kind: str, name: str, lifetime: timedelta
) -> tuple[ApiToken, str]:
    secret = new_token()
    row = ApiToken(
        user_id=user.id,
        kind=kind,
        name=name,
        digest=token_digest(settings, secret),
        prefix=secret[:12],
        expires_at=datetime.now(UTC) + lifetime,
    )
    session.add(row)
    session.flush()
    return row, secret


def require_fresh_sign_in(settings: Settings, via: ApiToken) -> None:
    """A long-lived token is minted only from a recent sign-in, never from another personal token."""
    again = "Sign in again (POST /api/v1/auth/token) and create the personal token with that sign-in token."
    if via.kind != "access":
        raise FreshSignInRequired(f"A personal token cannot create another personal token. {again}")
    age = datetime.now(UTC) - via.created_at
    if age > timedelta(minutes=settings.fresh_signin_minutes):
        raise FreshSignInRequired(
            f"Creating a personal token needs a fresh sign-in: your sign-in token was issued more than "
            f"{settings.fresh_signin_minutes} minutes ago. {again}"
        )


def create_personal_token(
    session: Session, settings: Settings, user: User, data: TokenCreate, via: ApiToken
) -> tuple[ApiToken, str]:
    """A personal token for ``user``, asked for with the bearer token ``via``."""
    require_fresh_sign_in(settings, via)
    return issue_personal_token(session, settings, user, data)


def issue_personal_token(
    session: Session, settings: Settings, user: User, data: TokenCreate
) -> tuple[ApiToken, str]:
    """A personal token for ``user``, who has just proved a fresh sign-in (API or web); audited."""
    days = data.expires_in_days or settings.personal_token_days_default
    if days > settings.personal_token_days_max:
        raise ValidationFailed(
            "Token lifetime too long.",
            errors=[
                field_error(["body", "expires_in_days"], f"at most {settings.personal_token_days_max} days")
            ],
        )
    row, secret = _issue(session, settings, user, "personal", data.name, timedelta(days=days))
    record(
        session,
        user,
        "token.created",
        "api_token",
        row.id,
        after={"name": row.name, "expires_at": row.expires_at, "prefix": row.prefix},
    )
    return row, secret


def list_personal_tokens(session: Session, user: User, page: PageParams) -> tuple[list[ApiToken], int]:
    stmt = (
        select(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.kind == "personal")
        .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
    )
    return paginate(session, stmt, page)


def logout(session: Session, user: User, via: ApiToken) -> None:
    """Revoke the token the request came with (sign-in or personal); it answers 401 from now on."""
    now = datetime.now(UTC)
    session.execute(
        update(ApiToken).where(ApiToken.id == via.id, ApiToken.revoked_at.is_(None)).values(revoked_at=now)
    )
    record(
        session,
        user,
        "auth.logout",
        "api_token",
        via.id,
        before={"revoked_at": None},
        after={"revoked_at": now, "kind": via.kind, "prefix": via.prefix},
        outcome="success",
    )


def revoke_personal_token(session: Session, user: User, token_id: int) -> None:
    row = session.get(ApiToken, token_id)
    if row is None or row.user_id != user.id or row.kind != "personal":
        raise NotFound(f"You have no personal token {token_id}.")
    if row.revoked_at is None:
        row.revoked_at = datetime.now(UTC)
        record(
            session,
            user,
            "token.revoked",
            "api_token",
            row.id,
            before={"revoked_at": None},
            after={"revoked_at": row.revoked_at},
        )


def sign_out_others(
    session: Session, user: User, *, keep_token_id: int | None = None, keep_web_session_id: int | None = None
) -> dict[str, int]:
    """Revoke every live API token and end every web session of ``user`` except the one the request
    came with (a bearer token or a web session), which stays signed in."""
    revoked = session.execute(
        update(ApiToken)
        .where(
            ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None), ApiToken.id != (keep_token_id or -1)
        )
        .values(revoked_at=datetime.now(UTC))
    ).rowcount
    ended = session.execute(
        delete(WebSession).where(WebSession.user_id == user.id, WebSession.id != (keep_web_session_id or -1))
    ).rowcount
    return {"tokens_revoked": revoked, "web_sessions_ended": ended}


WRONG_CURRENT = "Your current password is not right. Type it again."
SAME_AS_CURRENT = "Choose a new password that is different from your current one."
CHANGED_MEANWHILE = "Your password was changed by another request meanwhile. Sign in again with the new one."


def change_own_password(
    db: Database,
    settings: Settings,
    user_id: int,
    data: PasswordChange,
    *,
    keep_token_id: int | None = None,
    keep_web_session_id: int | None = None,
    request_id: str | None = None,
    client_address: str | None = None,
    attempt: throttle.Attempt | None = None,
) -> dict[str, int]:
    """Set a user's own new password after checking their current one; every other session and token of
    theirs ends, the one the request came with stays.

    Like ``check_password``, the stored hash is read in a short read-only unit of work and argon2 runs with
    no transaction held (the caller must hold none either); the change is then written in a short unit of
    work that checks the hash is still the one checked. A refusal is audited (outcome failure, with the
    reason, never the password) and changes nothing else. Returns what was ended.

    ``attempt``: the current password is checked like a sign-in's, so it goes through the sign-in
    throttle: refused (429) while the account or address must wait, and a wrong one counted."""
    if attempt is not None:
        throttle.check(db, settings, attempt)
    with db.unit_of_work(write=False) as session:
        row = session.execute(select(User.password_hash, User.email).where(User.id == user_id)).one()
    reason, problem_field, message = None, "", ""
    if not verify_password(settings, row.password_hash, data.current_password):
        reason, problem_field, message = "wrong current password", "current_password", WRONG_CURRENT
    elif data.new_password == data.current_password:
        reason, problem_field, message = "new password same as current", "new_password", SAME_AS_CURRENT
    elif (problem := passwords.problem(data.new_password, email=row.email)) is not None:
        reason, problem_field, message = "new password refused by the password rule", "new_password", problem
    if reason is not None:
        if attempt is not None and problem_field == "current_password":
            throttle.count_failure(db, settings, attempt, SignInFailed("wrong current password", user_id))
        with db.unit_of_work(request_id=request_id, client_address=client_address) as session:
            user = get_user(session, user_id)
            record(
                session,
                user,
                "user.password_changed",
                "user",
                user_id,
                changes={"reason": reason},
                outcome="failure",
            )
        raise ValidationFailed(
            "The password was not changed.", errors=[field_error(["body", problem_field], message)]
        )
    new_hash = hash_password(settings, data.new_password)
    with db.unit_of_work(request_id=request_id, client_address=client_address) as session:
        user = get_user(session, user_id)
        if user.password_hash != row.password_hash:
            raise Conflict(CHANGED_MEANWHILE)
        user.password_hash = new_hash
        user.updated_at = datetime.now(UTC)
        session.flush()
        ended = sign_out_others(
            session, user, keep_token_id=keep_token_id, keep_web_session_id=keep_web_session_id
        )
        record(
            session,
            user,
            "user.password_changed",
            "user",
            user_id,
            changes={"password": {"before": "***", "after": "*** (changed)"}, **ended},
            outcome="success",
        )
    return ended
