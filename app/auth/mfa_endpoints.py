"""The API of the second factor: one's own enrolment, recovery codes and turning off, an admin's reset, and
the second factor of ``POST /api/v1/auth/token`` (the ``totp`` form field)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Form, Request, Response
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel, ConfigDict, Field

from app.audit.service import record
from app.auth import mfa
from app.auth.throttle import Attempt, SignInFailed
from app.config import Settings
from app.deps import AdminUser, CurrentToken, CurrentUser, SessionDep, SettingsDep
from app.errors import Forbidden, NotAuthenticated, ServiceError, field_error, problem_of
from app.models import User
from app.types import Id
from app.users import service as users

if TYPE_CHECKING:
    from app.db import Database

router = APIRouter(tags=["mfa"])

CODE_DESCRIPTION = (
    "The current 6-digit code from the authenticator app, or one unused recovery code (10 characters, "
    "the hyphen optional). A code is accepted once only."
)


# The token form: the OAuth2 password form and one more field.


class PasswordAndCodeForm(OAuth2PasswordRequestForm):
    """``username`` (the email) and ``password``, and ``totp`` for an account with a second factor."""

    def __init__(
        self,
        *,
        grant_type: Annotated[str | None, Form(pattern="^password$")] = None,
        username: Annotated[str, Form()],
        password: Annotated[str, Form(json_schema_extra={"format": "password"})],
        scope: Annotated[str, Form()] = "",
        client_id: Annotated[str | None, Form()] = None,
        client_secret: Annotated[str | None, Form(json_schema_extra={"format": "password"})] = None,
        totp: Annotated[
            str | None,
            Form(
                max_length=32,
                description="For an account with a second factor: " + CODE_DESCRIPTION + " Without it such "
                "an account gets 401 (`/problems/second-factor-required`).",
            ),
        ] = None,
    ) -> None:
        super().__init__(
            grant_type=grant_type,
            username=username,
            password=password,
            scope=scope,
            client_id=client_id,
            client_secret=client_secret,
        )
        self.totp = totp


class SecondFactorRequired(NotAuthenticated):
    type_slug = "second-factor-required"
    title = "Second factor required"

    def __init__(self) -> None:
        super().__init__(
            "This account signs in with a second factor: send the current code from its authenticator app "
            "(or a recovery code) in the form field `totp`, with the email and password."
        )


class EnrolmentRequired(Forbidden):
    type_slug = "mfa-enrolment-required"
    title = "Second factor not set up"

    def __init__(self) -> None:
        super().__init__(
            "Your role needs a second factor, and you have not set one up yet. Sign in on the web once: it "
            "takes you through setting up an authenticator app. Then sign in here with its code in `totp`."
        )


class WrongSecondFactor(SignInFailed):
    """A wrong code at sign-in: counted by the sign-in throttle like a wrong password."""

    def __init__(self, user_id: int) -> None:
        super().__init__("wrong second factor", user_id)
        self.detail = "The second-factor code is not right, or was used already."
        self.errors = [field_error(["body", "totp"], "Incorrect or already used code.", "mfa_code")]


def second_factor(db: Database, settings: Settings, user_id: int, code: str | None, attempt: Attempt) -> None:
    """After a right password on the API: the second factor an enrolled account must also give."""
    with db.unit_of_work(write=False) as session:
        user = session.get(User, user_id)
        enrolled = mfa.is_enrolled(session, user_id)
        required = user is not None and mfa.is_required(settings, user)
    if not enrolled:
        if required:
            raise EnrolmentRequired()
        return
    if not code:
        # Audited, not counted: the password was right, and the code is asked for before any is checked.
        with db.unit_of_work(request_id=attempt.request_id, client_address=attempt.address) as session:
            changes = {"reason": "second factor missing", "email": attempt.account}
            record(session, None, attempt.failed_action, "user", user_id, changes=changes, outcome="failure")
        raise SecondFactorRequired()
    failure: ServiceError | None = None
    with db.unit_of_work(request_id=attempt.request_id, client_address=attempt.address) as session:
        try:
            mfa.check_code(session, settings, user_id, code, purpose="api sign-in")
        except (mfa.WrongCode, mfa.TooManyCodes) as exc:
            failure = exc  # the count and the audit record are kept: the unit of work commits
    if isinstance(failure, mfa.WrongCode):
        raise WrongSecondFactor(user_id)
    if failure is not None:
        raise failure


# One's own second factor


class CodeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=1, max_length=32, description=CODE_DESCRIPTION)


class MfaStatusOut(BaseModel):
    enrolled: bool = Field(description="A confirmed second factor is in force.")
    required: bool = Field(description="One of your roles needs a second factor (`SERR_MFA_REQUIRED_ROLES`).")
    confirmed_at: datetime | None
    enrolment_pending: bool = Field(description="Enrolment started and waits for its first code.")
    recovery_codes_left: int = Field(ge=0)


class EnrolmentOut(BaseModel):
    secret: str = Field(description="The TOTP secret (base32), for typing into an app; shown only now.")
    otpauth_uri: str = Field(description="The same as an `otpauth://totp/…` URI (what the QR code holds).")
    digits: int = mfa.DIGITS
    period_seconds: int = mfa.STEP_SECONDS
    algorithm: str = "SHA1"


class RecoveryCodesOut(BaseModel):
    recovery_codes: list[str] = Field(
        description=f"{mfa.RECOVERY_CODE_COUNT} single-use codes, each standing in for one TOTP code; shown "
        "only now. Keep them somewhere safe, apart from the device."
    )


def _refused(request: Request, exc: ServiceError) -> Response:
    """A wrong code's answer, returned rather than raised: the request's unit of work commits, keeping the
    count of wrong codes and the audit record, and nothing else was changed."""
    return problem_of(request, exc)


CODE_RESPONSES = {
    409: {"description": "No second factor to check the code against"},
    422: {"description": "The code is not right or was used already (field error on `code`)"},
    429: {"description": "Too many wrong codes in a row: wait `Retry-After` seconds"},
}


@router.get("/users/me/mfa", response_model=MfaStatusOut, summary="My second factor: whether it is set up")
def my_status(session: SessionDep, settings: SettingsDep, user: CurrentUser) -> MfaStatusOut:
    s = mfa.status(session, settings, user)
    return MfaStatusOut(
        enrolled=s.enrolled,
        required=s.required,
        confirmed_at=s.confirmed_at,
        enrolment_pending=s.enrolment_pending,
        recovery_codes_left=s.recovery_codes_left,
    )


@router.post(
    "/users/me/mfa",
    response_model=EnrolmentOut,
    status_code=201,
    summary="Start setting up a second factor (TOTP): a new secret, not in force until confirmed",
    description="Needs a fresh sign-in token (not a personal token). Returns the secret and its otpauth URI, "
    "once; it replaces any enrolment not yet confirmed. Confirm it with `POST /users/me/mfa/confirm` and "
    "a current code. 409 when a second factor is already in force.",
    responses={409: {"description": "A second factor is already set up"}},
)
def start_enrolment(
    session: SessionDep, settings: SettingsDep, user: CurrentUser, via: CurrentToken
) -> EnrolmentOut:
    users.require_fresh_sign_in(settings, via)
    secret = mfa.begin(session, settings, user)
    return EnrolmentOut(secret=secret, otpauth_uri=mfa.provisioning_uri(secret, user.email))


@router.post(
    "/users/me/mfa/confirm",
    response_model=RecoveryCodesOut,
    summary="Confirm the second factor with a current code; returns the recovery codes (once)",
    description="From now on the second factor is in force: web sign-in asks for a code after the password, "
    "and `POST /auth/token` needs the `totp` field. Personal API tokens are not affected.",
    responses=CODE_RESPONSES,
)
def confirm_enrolment(
    request: Request,
    data: CodeIn,
    session: SessionDep,
    settings: SettingsDep,
    user: CurrentUser,
    via: CurrentToken,
):
    users.require_fresh_sign_in(settings, via)
    try:
        codes = mfa.confirm(session, settings, user, data.code)
    except (mfa.WrongCode, mfa.TooManyCodes) as exc:
        return _refused(request, exc)
    return RecoveryCodesOut(recovery_codes=codes)


@router.post(
    "/users/me/mfa/recovery-codes",
    response_model=RecoveryCodesOut,
    summary="New recovery codes (replacing all earlier ones), with a current code",
    responses=CODE_RESPONSES,
)
def regenerate_recovery_codes(
    request: Request, data: CodeIn, session: SessionDep, settings: SettingsDep, user: CurrentUser
):
    try:
        codes = mfa.regenerate_recovery_codes(session, settings, user, data.code)
    except (mfa.WrongCode, mfa.TooManyCodes) as exc:
        return _refused(request, exc)
    return RecoveryCodesOut(recovery_codes=codes)


@router.post(
    "/users/me/mfa/disable",
    status_code=204,
    summary="Turn my second factor off, with a current code (or a recovery code)",
    description="If one of your roles needs a second factor, the next web sign-in sets one up again.",
    responses=CODE_RESPONSES,
)
def disable(
    request: Request, data: CodeIn, session: SessionDep, settings: SettingsDep, user: CurrentUser
) -> Response:
    try:
        mfa.disable(session, settings, user, data.code)
    except (mfa.WrongCode, mfa.TooManyCodes) as exc:
        return _refused(request, exc)
    return Response(status_code=204)


@router.delete(
    "/users/{user_id:int}/mfa",
    status_code=204,
    summary="Remove a user's second factor (admin; for a lost device): they set one up again",
    description="Audited as `mfa.reset`. The user's recovery codes go too.",
    responses={404: {"description": "No such user"}, 409: {"description": "The user has no second factor"}},
)
def reset(user_id: Id, session: SessionDep, admin: AdminUser) -> Response:
    mfa.reset(session, admin, users.get_user(session, user_id))
    return Response(status_code=204)
