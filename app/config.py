"""Service settings, read from the environment with the ``SERR_`` prefix."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SECRET = "change-me-development-only"


class Settings(BaseSettings):
    """One place for every setting; unsafe defaults are refused outside development."""

    model_config = SettingsConfigDict(env_prefix="SERR_", env_file=".env", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = "sqlite:///./serr.db"
    secret_key: str = DEFAULT_SECRET
    access_token_minutes: int = Field(60, ge=1, le=24 * 60)
    personal_token_days_default: int = Field(90, ge=1, le=366)
    personal_token_days_max: int = Field(366, ge=1, le=3660)
    fresh_signin_minutes: int = Field(
        10,
        ge=1,
        le=24 * 60,
        description="Creating a personal token needs a sign-in token issued at most this long ago.",
    )
    cors_origins: list[str] = Field(default_factory=list)
    sqlite_busy_timeout_ms: int = Field(30_000, ge=0)
    db_pool_size: int = Field(5, ge=1)
    argon2_time_cost: int = Field(3, ge=1)
    argon2_memory_kib: int = Field(65_536, ge=8)
    argon2_parallelism: int = Field(4, ge=1)
    max_upload_bytes: int = Field(5 * 1024 * 1024, ge=1024)
    scorers_see_rankings_from: list[Literal["open", "scoring", "moderation", "closed"]] = Field(
        default_factory=lambda: ["moderation", "closed"],
        description="Cycle statuses in which scorers may read rankings.",
    )
    sensitivity_max_samples: int = Field(20_000, ge=100)
    web_idle_minutes: int = Field(30, ge=1, description="Web sign-in ends after this long without a request.")
    web_absolute_hours: int = Field(12, ge=1, description="Web sign-in ends this long after signing in.")
    mfa_required_roles: list[Literal["admin", "chair", "scorer", "finance", "proposer"]] | None = Field(
        None,
        description="Roles that must sign in with a second factor (TOTP); default: admin and finance in "
        "production, none in development and test.",
    )
    cookie_secure: bool | None = Field(
        None, description="Secure cookies; default: on outside development/test."
    )
    # Sign-in throttling (app/auth/throttle.py): counted in the database, so every instance shares it.
    throttle_window_minutes: int = Field(
        15, ge=1, le=24 * 60, description="Failed sign-ins are counted over this window from the first."
    )
    throttle_backoff_after: int = Field(
        5, ge=1, le=1000, description="From this many failures of an account, each next attempt waits."
    )
    throttle_backoff_max_seconds: int = Field(
        60, ge=1, le=3600, description="The longest back-off wait (it doubles from 1 second)."
    )
    throttle_lock_after: int = Field(
        10, ge=1, le=1000, description="This many failures of an account within the window lock it."
    )
    throttle_lock_minutes: int = Field(
        15, ge=1, le=60, description="How long an account lock lasts (at most an hour; admins can lift it)."
    )
    throttle_address_lock_after: int = Field(
        50, ge=1, le=100_000, description="This many failures from one address within the window lock it."
    )
    throttle_address_lock_minutes: int = Field(
        15, ge=1, le=60, description="How long an address lock lasts (at most an hour; admins can lift it)."
    )

    @model_validator(mode="after")
    def _fail_closed(self) -> Settings:
        weak = self.secret_key == DEFAULT_SECRET or len(self.secret_key) < 32
        if self.environment == "production" and weak:
            raise ValueError(
                "SERR_SECRET_KEY must be set to a random value of at least 32 characters outside development"
            )
        return self

    @property
    def secure_cookies(self) -> bool:
        if self.cookie_secure is not None:
            return self.cookie_secure
        return self.environment == "production"

    @property
    def roles_needing_mfa(self) -> frozenset[str]:
        if self.mfa_required_roles is not None:
            return frozenset(self.mfa_required_roles)
        return frozenset({"admin", "finance"}) if self.environment == "production" else frozenset()

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    return Settings()
