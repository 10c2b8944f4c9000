from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StrictBool,
    ValidationInfo,
    field_validator,
)

from app.auth import passwords
from app.models import Role
from app.types import PositiveInt32, SingleLine, Version, single_line

PASSWORD_DESCRIPTION = (
    f"{passwords.MIN_LENGTH} to {passwords.MAX_LENGTH} characters, any characters (spaces too, kept as "
    "typed), not in the bundled list of common and breached passwords and not containing the email's name."
)
# The length in the OpenAPI schema; the check itself (with its plain-English message) is passwords.check.
PASSWORD_LENGTH = {"minLength": passwords.MIN_LENGTH, "maxLength": passwords.MAX_LENGTH}


def _password_rule(value: str) -> str:
    """Length and the common-password list; the email's name is checked where the email is known."""
    return passwords.check(value)


def _roles_rule(value: list[Role]) -> list[Role]:
    return sorted(set(value))


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Annotated[EmailStr, AfterValidator(single_line)]
    full_name: SingleLine = Field(min_length=1, max_length=200)
    password: str = Field(description=PASSWORD_DESCRIPTION, json_schema_extra=PASSWORD_LENGTH)
    roles: list[Role] = Field(min_length=1)

    _roles = field_validator("roles")(_roles_rule)

    @field_validator("password")
    @classmethod
    def _pw(cls, v: str, info: ValidationInfo) -> str:
        return passwords.check(v, email=info.data.get("email"))


class UserUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: Version | None = Field(None, description="The version you read; a stale one gets 409.")
    full_name: SingleLine | None = Field(None, min_length=1, max_length=200)
    password: str | None = Field(
        None,
        description=f"A new password; it signs the user out everywhere. {PASSWORD_DESCRIPTION}",
        json_schema_extra=PASSWORD_LENGTH,
    )
    roles: list[Role] | None = Field(None, min_length=1)
    is_active: StrictBool | None = None

    @field_validator("password")
    @classmethod
    def _pw(cls, v: str | None) -> str | None:
        return None if v is None else _password_rule(v)

    @field_validator("roles")
    @classmethod
    def _roles(cls, v: list[Role] | None) -> list[Role] | None:
        return None if v is None else _roles_rule(v)


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    current_password: str = Field(
        max_length=1000, description="Your password now; a wrong one is refused and recorded."
    )
    new_password: str = Field(description=PASSWORD_DESCRIPTION, json_schema_extra=PASSWORD_LENGTH)

    _pw = field_validator("new_password")(_password_rule)


class UserOut(BaseModel):
    id: int
    email: str
    full_name: str
    roles: list[str]
    is_active: bool
    version: int
    created_at: datetime


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: SingleLine = Field(
        min_length=1, max_length=100, description="What the token is for, e.g. 'scoring script'."
    )
    expires_in_days: PositiveInt32 | None = Field(
        None, description="Lifetime; default and maximum from settings."
    )


class TokenOut(BaseModel):
    id: int
    name: str
    prefix: str
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class TokenCreated(TokenOut):
    token: str = Field(description="The secret. Shown only in this response; store it now.")


class SignedOut(BaseModel):
    tokens_revoked: int = Field(description="Live API tokens (sign-in and personal) revoked.")
    web_sessions_ended: int = Field(description="Web sessions ended.")


class AccessToken(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int
