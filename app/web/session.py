"""Web sign-in: server-side sessions behind an opaque cookie, CSRF tokens, idle and absolute timeouts."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request, Response
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from app.auth.security import token_digest
from app.config import Settings
from app.deps import SessionDep, SettingsDep
from app.models import Cycle, Role, User, WebSession

COOKIE = "serr_session"
# Over HTTPS (production) the cookie is ``__Host-`` prefixed: the browser keeps it only if it is Secure,
# has Path=/ and no Domain, so no sibling host or plain-http page can set or overwrite it.
SECURE_COOKIE = "__Host-serr_session"
TOUCH_EVERY = timedelta(seconds=60)


class LoginRequired(Exception):
    def __init__(self, next_path: str, expired: bool = False):
        self.next_path = next_path
        self.expired = expired


class CsrfFailed(Exception):
    pass


@dataclass
class Web:
    user: User
    csrf: str
    session_id: int
    # Whether a cycle's rankings are open to this user now; asked only when a page needs it (the navigation
    # of a scorer, who reads rankings only in the cycle statuses the settings name).
    rankings_readable: Callable[[], bool] = lambda: True

    @cached_property
    def sees_rankings(self) -> bool:
        return self.rankings_readable()


def cookie_name(settings: Settings) -> str:
    """The session cookie's name: the one definition, used to set, read and clear it."""
    return SECURE_COOKIE if settings.secure_cookies else COOKIE


def set_cookie(response: Response, settings: Settings, secret: str) -> None:
    response.set_cookie(
        cookie_name(settings),
        secret,
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
        max_age=settings.web_absolute_hours * 3600,
        path="/",
    )


def clear_cookie(response: Response, settings: Settings) -> None:
    response.delete_cookie(
        cookie_name(settings), path="/", secure=settings.secure_cookies, httponly=True, samesite="lax"
    )


def cookie_of(request: Request, settings: Settings) -> str | None:
    return request.cookies.get(cookie_name(settings))


def start(session: Session, settings: Settings, user: User) -> tuple[str, WebSession]:
    secret = secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    row = WebSession(
        digest=token_digest(settings, secret),
        user_id=user.id,
        csrf_token=secrets.token_urlsafe(32),
        created_at=now,
        last_seen_at=now,
        expires_at=now + timedelta(hours=settings.web_absolute_hours),
    )
    session.add(row)
    session.flush()
    return secret, row


def end(session: Session, settings: Settings, cookie: str | None) -> None:
    if cookie:
        session.execute(delete(WebSession).where(WebSession.digest == token_digest(settings, cookie)))


def current_web(request: Request, session: SessionDep, settings: SettingsDep) -> Web:
    path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    cookie = cookie_of(request, settings)
    if not cookie:
        raise LoginRequired(path)
    row = session.scalar(select(WebSession).where(WebSession.digest == token_digest(settings, cookie)))
    now = datetime.now(UTC)
    if row is None:
        raise LoginRequired(path, expired=True)
    idle = timedelta(minutes=settings.web_idle_minutes)
    user = session.get(User, row.user_id)
    if row.expires_at <= now or now - row.last_seen_at > idle or user is None or not user.is_active:
        with request.app.state.db.unit_of_work() as w:
            w.execute(delete(WebSession).where(WebSession.id == row.id))
        raise LoginRequired(path, expired=True)
    if now - row.last_seen_at > TOUCH_EVERY:
        # A short write of its own, so that page reads stay read-only transactions.
        with request.app.state.db.unit_of_work() as w:
            w.execute(update(WebSession).where(WebSession.id == row.id).values(last_seen_at=now))
    request.state.user_id = user.id  # named in the audit record if the request is refused

    def rankings_readable() -> bool:
        if user.has_role(Role.admin, Role.chair, Role.finance):
            return True
        if not user.has_role(Role.scorer):
            return False
        statuses = list(settings.scorers_see_rankings_from)
        return session.scalar(select(Cycle.id).where(Cycle.status.in_(statuses)).limit(1)) is not None

    return Web(user=user, csrf=row.csrf_token, session_id=row.id, rankings_readable=rankings_readable)


WebUser = Annotated[Web, Depends(current_web)]


async def form_data(request: Request):
    """The posted form (read in the event loop; no database here)."""
    return await request.form()


def same_token(given: object, expected: str) -> bool:
    """Constant-time comparison of a posted token with the expected one (bytes, so any text compares)."""
    return bool(given) and hmac.compare_digest(str(given).encode(), expected.encode())


def checked_form(web: WebUser, form=Depends(form_data)):
    """Every form post must carry the session's CSRF token."""
    if not same_token(form.get("csrf_token"), web.csrf):
        raise CsrfFailed()
    return form


def login_url(next_path: str, expired: bool = False) -> str:
    return f"/login?next={quote(next_path)}" + ("&expired=1" if expired else "")
