from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from app.auth import locks, mfa_endpoints, throttle
from app.deps import CurrentToken, CurrentUser, SessionDep, SettingsDep
from app.users import service
from app.users.schemas import AccessToken

router = APIRouter(tags=["auth"])
# Under the authenticated parent router.
signed_in_router = APIRouter(tags=["auth"])
signed_in_router.include_router(locks.router)  # admins see and lift sign-in locks
signed_in_router.include_router(mfa_endpoints.router)  # second factors (TOTP)


@router.post(
    "/auth/token",
    response_model=AccessToken,
    summary="Sign in: OAuth2 password form (username = email) to a bearer access token",
    description="Wrong email and wrong password get the same 401. Failed sign-ins are counted per account "
    "and per client address on every instance: after a few, each next attempt must wait (1, 2, 4 … "
    "seconds), then the account or address is locked for a while; meanwhile every attempt, even with "
    "the right password, gets 429 with `Retry-After` (seconds) and is not checked. An account with a second "
    "factor also sends its current code in `totp` (401 `/problems/second-factor-required` without it; a "
    "wrong code counts as a failed sign-in); an account whose role needs one but has none gets 403 "
    "`/problems/mfa-enrolment-required` (set it up on the web first).",
    responses={
        401: {"description": "Incorrect email or password, or a second-factor code missing or wrong"},
        403: {"description": "The role needs a second factor that is not set up yet"},
        429: {"description": "Too many failed sign-ins: wait the `Retry-After` seconds"},
    },
)
def issue_token(
    request: Request, form: Annotated[mfa_endpoints.PasswordAndCodeForm, Depends()], settings: SettingsDep
) -> AccessToken:
    # No request-wide unit of work: the password is checked with no transaction open, and only the
    # token and its audit record are written, in a short write of their own.
    db = request.app.state.db
    attempt = throttle.Attempt.of(request, form.username, "api")
    with throttle.guard(db, settings, attempt):  # 429 before the check; a failure counted after it
        checked = service.check_password(db, settings, form.username, form.password)
        mfa_endpoints.second_factor(db, settings, checked.user_id, form.totp, attempt)
    with db.unit_of_work(request_id=attempt.request_id, client_address=attempt.address) as session:
        token, expires_in = service.login(session, settings, checked)
        throttle.succeeded(session, attempt)
    return AccessToken(access_token=token, expires_in=expires_in)


@signed_in_router.post(
    "/auth/logout",
    status_code=204,
    summary="Sign out: revoke the bearer token this request is made with",
)
def logout(session: SessionDep, user: CurrentUser, via: CurrentToken) -> Response:
    service.logout(session, user, via)
    return Response(status_code=204)
