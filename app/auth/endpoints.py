from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import OAuth2PasswordRequestForm

from app.deps import CurrentToken, CurrentUser, SessionDep, SettingsDep
from app.users import service
from app.users.schemas import AccessToken

router = APIRouter(tags=["auth"])
# Under the authenticated parent router.
signed_in_router = APIRouter(tags=["auth"])


@router.post(
    "/auth/token",
    response_model=AccessToken,
    summary="Sign in: OAuth2 password form (username = email) to a bearer access token",
)
def issue_token(
    request: Request, form: Annotated[OAuth2PasswordRequestForm, Depends()], settings: SettingsDep
) -> AccessToken:
    # No request-wide unit of work: the password is checked with no transaction open, and only the
    # token and its audit record are written, in a short write of their own.
    db = request.app.state.db
    checked = service.check_password(db, settings, form.username, form.password)
    with db.unit_of_work(request_id=request.headers.get("x-request-id")) as session:
        token, expires_in = service.login(session, settings, checked)
    return AccessToken(access_token=token, expires_in=expires_in)


@signed_in_router.post(
    "/auth/logout",
    status_code=204,
    summary="Sign out: revoke the bearer token this request is made with",
)
def logout(session: SessionDep, user: CurrentUser, via: CurrentToken) -> Response:
    service.logout(session, user, via)
    return Response(status_code=204)
