"""The web's second factor: the code step of sign-in, enrolment when a role needs it, and the account page.

Sign-in with a second factor takes two steps. After a right password, ``/login`` creates no session: it
stores a pending sign-in (``MfaChallenge``, a few minutes, a few codes) and gives the browser a cookie of
its own for it, then sends it to ``/login/mfa`` for the code. Only a right code there starts the session.
A user whose role needs a second factor (``SERR_MFA_REQUIRED_ROLES``) and who has none is sent instead to
``/login/mfa/enrol``, which sets one up (QR code and the secret as text, confirmed by a code) and shows
the recovery codes once, before the session starts. A pending sign-in can do nothing else: it is not a
session, and every other page still asks to sign in.

Wrong codes count three ways: on the pending sign-in (``MAX_ATTEMPTS``, then sign in again), on the user's
second factor (``app.auth.mfa``) and, like wrong passwords, on the sign-in throttle's account and address
counters (``app.auth.throttle``), which also refuses the code step while the account or address waits.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from app.audit.service import record
from app.auth import mfa, throttle
from app.auth.security import token_digest
from app.config import Settings
from app.deps import SessionDep, SettingsDep
from app.errors import Forbidden, NotFound
from app.models import MfaChallenge, Role, User, UserMfa
from app.users import service as users
from app.web import session as websession
from app.web.forms import path_id, text
from app.web.render import render
from app.web.session import Web, WebUser, checked_form, form_data, same_token

router = APIRouter(include_in_schema=False)

COOKIE = "serr_mfa"
SECURE_COOKIE = "__Host-serr_mfa"
MAX_ATTEMPTS = 5
LIFETIME = {"verify": timedelta(minutes=5), "enrol": timedelta(minutes=15)}
WRONG = "The code is not right, or was used already. Enter the current code from your authenticator app."
ENDED = "Too many wrong codes for this sign-in. Sign in again with your password."


def _cookie_name(settings: Settings) -> str:
    return SECURE_COOKIE if settings.secure_cookies else COOKIE


def _set_cookie(response: Response, settings: Settings, secret: str, purpose: str) -> None:
    response.set_cookie(
        _cookie_name(settings),
        secret,
        httponly=True,
        samesite="strict",
        secure=settings.secure_cookies,
        max_age=int(LIFETIME[purpose].total_seconds()),
        path="/",
    )


def _clear_cookie(response: Response, settings: Settings) -> None:
    response.delete_cookie(
        _cookie_name(settings), path="/", secure=settings.secure_cookies, httponly=True, samesite="strict"
    )


# Called by POST /login once the password is right.


def needs_second_step(session: Session, settings: Settings, user: User) -> bool:
    return mfa.is_enrolled(session, user.id) or mfa.is_required(settings, user)


def second_step(request: Request, session: Session, settings: Settings, user: User, nxt: str) -> Response:
    """Store the pending sign-in and send the browser to its code (or enrolment) page; no session yet."""
    now = datetime.now(UTC)
    purpose: Literal["verify", "enrol"] = "verify" if mfa.is_enrolled(session, user.id) else "enrol"
    # One pending sign-in per user at a time; expired ones of anybody go too.
    session.execute(
        delete(MfaChallenge).where(or_(MfaChallenge.user_id == user.id, MfaChallenge.expires_at <= now))
    )
    if purpose == "enrol":
        mfa.begin(session, settings, user)
    secret = secrets.token_urlsafe(32)
    session.add(
        MfaChallenge(
            digest=token_digest(settings, secret),
            user_id=user.id,
            purpose=purpose,
            next_path=nxt[:2000],
            csrf_token=secrets.token_urlsafe(32),
            attempts=0,
            created_at=now,
            expires_at=now + LIFETIME[purpose],
        )
    )
    record(
        session,
        user,
        "auth.web_password_accepted",
        "user",
        user.id,
        changes={"next_step": purpose},
        outcome="success",
    )
    response = RedirectResponse("/login/mfa" if purpose == "verify" else "/login/mfa/enrol", status_code=303)
    _set_cookie(response, settings, secret, purpose)
    response.delete_cookie("serr_login_csrf", path="/login")
    return response


def _pending(session: Session, request: Request, settings: Settings, purpose: str) -> MfaChallenge | None:
    secret = request.cookies.get(_cookie_name(settings))
    if not secret:
        return None
    row = session.scalar(select(MfaChallenge).where(MfaChallenge.digest == token_digest(settings, secret)))
    if row is None or row.purpose != purpose or row.expires_at <= datetime.now(UTC):
        return None
    return row


def _start_over() -> RedirectResponse:
    return RedirectResponse(websession.login_url("/", expired=True), status_code=303)


def _signed_in(
    request: Request, session: Session, settings: Settings, user: User, factor: str
) -> tuple[str, str]:
    """End the pending sign-in and start the session (a new session id); the cookie's secret."""
    websession.end(session, settings, websession.cookie_of(request, settings))
    secret, _ = websession.start(session, settings, user)
    record(
        session, user, "auth.web_login", "user", user.id, changes={"second_factor": factor}, outcome="success"
    )
    return secret


def _finish(response: Response, settings: Settings, session_secret: str) -> Response:
    websession.set_cookie(response, settings, session_secret)
    _clear_cookie(response, settings)
    return response


# The code step


def _code_page(request: Request, row_csrf: str, errors: dict, status: int = 200, ended: bool = False):
    return render(
        request, "login_mfa.html", status=status, csrf=row_csrf, errors=errors, ended=ended, title="Sign in"
    )


@router.get("/login/mfa", response_class=HTMLResponse)
def code_page(request: Request, settings: SettingsDep, session: SessionDep):
    row = _pending(session, request, settings, "verify")
    if row is None:
        return _start_over()
    return _code_page(request, row.csrf_token, {})


@router.post("/login/mfa", response_class=HTMLResponse)
def code_step(request: Request, settings: SettingsDep, form=Depends(form_data)):
    """Check the code; no request-wide unit of work, so that the throttle writes in short ones of its own."""
    db = request.app.state.db
    with db.unit_of_work(write=False) as session:
        row = _pending(session, request, settings, "verify")
        if row is None:
            return _start_over()
        row_id, csrf, user_id = row.id, row.csrf_token, row.user_id
        email = session.scalar(select(User.email).where(User.id == user_id)) or ""
    if not same_token(text(form, "csrf_token"), csrf):
        return _code_page(request, csrf, {"_form": "The form expired. Please try again."}, 403)
    attempt = throttle.Attempt.of(request, email, "web")
    try:
        throttle.check(db, settings, attempt)
    except throttle.TooManySignIns as exc:
        response = _code_page(request, csrf, {"_form": exc.detail}, 429)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    failure: Exception | None = None
    ended = False
    with db.unit_of_work(request_id=attempt.request_id, client_address=attempt.address) as session:
        row = session.get(MfaChallenge, row_id)
        if row is None:
            return _start_over()
        row.attempts += 1
        try:
            factor = mfa.check_code(session, settings, user_id, text(form, "code"), purpose="web sign-in")
        except (mfa.WrongCode, mfa.TooManyCodes, mfa.NotEnrolled) as exc:
            failure = exc
            ended = row.attempts >= MAX_ATTEMPTS or not isinstance(exc, mfa.WrongCode)
            if ended:
                session.delete(row)
        else:
            user = session.get(User, user_id)
            session.delete(row)
            if user is None or not user.is_active:
                return _start_over()
            nxt = row.next_path
            session_secret = _signed_in(request, session, settings, user, factor)
            throttle.succeeded(session, attempt)
    if failure is None:
        return _finish(RedirectResponse(nxt, status_code=303), settings, session_secret)
    if isinstance(failure, mfa.WrongCode):
        throttle.count_failure(db, settings, attempt, throttle.SignInFailed("wrong second factor", user_id))
    if isinstance(failure, mfa.TooManyCodes):
        response = _code_page(request, csrf, {"_form": failure.detail}, 429, ended=True)
        response.headers["Retry-After"] = str(failure.retry_after)
    else:
        response = _code_page(request, csrf, {"_form": ENDED} if ended else {"code": WRONG}, 401, ended)
    if ended:
        _clear_cookie(response, settings)
    return response


# Enrolment at sign-in (a role that needs a second factor, none set up yet)


def _enrol_page(request: Request, settings: Settings, session: Session, user: User, csrf: str, **more):
    secret = mfa.pending_secret(session, settings, user)
    uri = mfa.provisioning_uri(secret, user.email) if secret else None
    return render(
        request,
        "login_mfa_enrol.html",
        csrf=csrf,
        secret=mfa.grouped(secret) if secret else None,
        qr=mfa.qr_svg(uri) if uri else None,
        title="Set up your second factor",
        email=user.email,
        errors=more.pop("errors", {}),
        **more,
    )


@router.get("/login/mfa/enrol", response_class=HTMLResponse)
def enrol_page(request: Request, settings: SettingsDep, session: SessionDep):
    row = _pending(session, request, settings, "enrol")
    user = session.get(User, row.user_id) if row else None
    if row is None or user is None:
        return _start_over()
    return _enrol_page(request, settings, session, user, row.csrf_token)


@router.post("/login/mfa/enrol", response_class=HTMLResponse)
def enrol_step(request: Request, settings: SettingsDep, form=Depends(form_data)):
    db = request.app.state.db
    address = request.client.host if request.client else None
    with db.unit_of_work(request_id=request.headers.get("x-request-id"), client_address=address) as session:
        row = _pending(session, request, settings, "enrol")
        user = session.get(User, row.user_id) if row else None
        if row is None or user is None or not user.is_active:
            return _start_over()
        if not same_token(text(form, "csrf_token"), row.csrf_token):
            errors = {"_form": "The form expired. Please try again."}
            return _enrol_page(request, settings, session, user, row.csrf_token, errors=errors, status=403)
        row.attempts += 1
        try:
            codes = mfa.confirm(session, settings, user, text(form, "code"))
        except (mfa.WrongCode, mfa.TooManyCodes, mfa.NotEnrolled) as exc:
            if row.attempts >= MAX_ATTEMPTS or not isinstance(exc, mfa.WrongCode):
                session.delete(row)
                response = render(
                    request, "login_mfa.html", status=401, csrf="", errors={"_form": ENDED}, ended=True
                )
                _clear_cookie(response, settings)
                return response
            return _enrol_page(
                request, settings, session, user, row.csrf_token, errors={"code": WRONG}, status=422
            )
        nxt = row.next_path
        session.delete(row)
        session_secret = _signed_in(request, session, settings, user, "totp")
    response = render(
        request, "mfa_recovery_codes.html", codes=codes, next=nxt, title="Your recovery codes", enrolled=True
    )
    return _finish(response, settings, session_secret)


# The account page's second factor (signed in)


def _account_page(request: Request, web: Web, session: Session, settings: Settings, **more):
    state = mfa.status(session, settings, web.user)
    secret = mfa.pending_secret(session, settings, web.user) if state.enrolment_pending else None
    uri = mfa.provisioning_uri(secret, web.user.email) if secret else None
    return render(
        request,
        "account_mfa.html",
        web,
        status=more.pop("status", 200),
        title="Second factor",
        state=state,
        secret=mfa.grouped(secret) if secret else None,
        qr=mfa.qr_svg(uri) if uri else None,
        errors=more.pop("errors", {}),
        **more,
    )


SAVED = {
    "off": "Your second factor is off. Sign-in asks only for your password"
    " (unless your role needs a second factor: then the next sign-in sets one up).",
}


@router.get("/account/mfa", response_class=HTMLResponse)
def account_mfa(request: Request, web: WebUser, session: SessionDep, settings: SettingsDep, saved: str = ""):
    return _account_page(request, web, session, settings, message=SAVED.get(saved))


@router.post("/account/mfa/start")
def account_start(
    request: Request, web: WebUser, session: SessionDep, settings: SettingsDep, form=Depends(checked_form)
):
    if not mfa.is_enrolled(session, web.user.id):
        mfa.begin(session, settings, web.user)
    return RedirectResponse("/account/mfa", status_code=303)


def _code_refused(request, web, session, settings, exc: Exception):
    if isinstance(exc, mfa.TooManyCodes):
        response = _account_page(request, web, session, settings, errors={"_form": exc.detail}, status=429)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    if isinstance(exc, mfa.WrongCode):
        return _account_page(request, web, session, settings, errors={"code": WRONG}, status=422)
    return _account_page(request, web, session, settings, errors={"_form": str(exc)}, status=409)


CODE_ERRORS = (mfa.WrongCode, mfa.TooManyCodes, mfa.NotEnrolled, mfa.AlreadyEnrolled)


def _recovery_codes_page(request: Request, web, codes: list[str], *, enrolled: bool) -> HTMLResponse:
    """New recovery codes, shown this once (after enrolment, or after replacing them)."""
    return render(
        request,
        "mfa_recovery_codes.html",
        web,
        codes=codes,
        next="/account/mfa",
        title="Your recovery codes",
        enrolled=enrolled,
    )


@router.post("/account/mfa/confirm", response_class=HTMLResponse)
def account_confirm(
    request: Request, web: WebUser, session: SessionDep, settings: SettingsDep, form=Depends(checked_form)
):
    try:
        codes = mfa.confirm(session, settings, web.user, text(form, "code"))
    except CODE_ERRORS as exc:
        return _code_refused(request, web, session, settings, exc)
    return _recovery_codes_page(request, web, codes, enrolled=True)


@router.post("/account/mfa/recovery-codes", response_class=HTMLResponse)
def account_recovery_codes(
    request: Request, web: WebUser, session: SessionDep, settings: SettingsDep, form=Depends(checked_form)
):
    try:
        codes = mfa.regenerate_recovery_codes(session, settings, web.user, text(form, "code"))
    except CODE_ERRORS as exc:
        return _code_refused(request, web, session, settings, exc)
    return _recovery_codes_page(request, web, codes, enrolled=False)


@router.post("/account/mfa/disable", response_class=HTMLResponse)
def account_disable(
    request: Request, web: WebUser, session: SessionDep, settings: SettingsDep, form=Depends(checked_form)
):
    try:
        mfa.disable(session, settings, web.user, text(form, "code"))
    except CODE_ERRORS as exc:
        return _code_refused(request, web, session, settings, exc)
    return RedirectResponse("/account/mfa?saved=off", status_code=303)


# Admins: reset a user's second factor (a lost device)


def _admin_page(
    request: Request, web: Web, session: Session, *, message: str | None = None, status: int = 200
):
    if not web.user.has_role(Role.admin):
        raise Forbidden("The admin pages are for admins.")
    rows = session.execute(
        select(User.id, User.full_name, User.email, UserMfa.confirmed_at)
        .join(UserMfa, UserMfa.user_id == User.id)
        .order_by(User.email)
    ).all()
    return render(
        request, "admin_mfa.html", web, status=status, title="Second factors", rows=rows, message=message
    )


@router.get("/admin/mfa", response_class=HTMLResponse)
def admin_mfa(request: Request, web: WebUser, session: SessionDep, saved: str = ""):
    message = "The second factor has been removed: the user sets one up again." if saved == "reset" else None
    return _admin_page(request, web, session, message=message)


@router.post("/admin/mfa/{user_id}/reset", response_class=HTMLResponse)
def admin_reset(
    request: Request,
    web: WebUser,
    session: SessionDep,
    user_id: Annotated[int, path_id("user_id")],
    form=Depends(checked_form),
):
    _admin_page(request, web, session)  # admins only
    try:
        mfa.reset(session, web.user, users.get_user(session, user_id))
    except (NotFound, mfa.NotEnrolled) as exc:
        return _admin_page(request, web, session, message=exc.detail, status=exc.status)
    return RedirectResponse("/admin/mfa?saved=reset", status_code=303)
