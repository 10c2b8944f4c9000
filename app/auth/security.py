"""Password hashing (argon2id) and bearer tokens (random, stored only as a keyed digest)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from app.config import Settings

TOKEN_PREFIX = "serr_"


@lru_cache(maxsize=8)
def _hasher(time_cost: int, memory_kib: int, parallelism: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism)


def hasher(settings: Settings) -> PasswordHasher:
    return _hasher(settings.argon2_time_cost, settings.argon2_memory_kib, settings.argon2_parallelism)


def hash_password(settings: Settings, password: str) -> str:
    return hasher(settings).hash(password)


@lru_cache(maxsize=8)
def _dummy_hash(time_cost: int, memory_kib: int, parallelism: int) -> str:
    return _hasher(time_cost, memory_kib, parallelism).hash(secrets.token_urlsafe(16))


def verify_password(settings: Settings, stored_hash: str | None, password: str) -> bool:
    """Verify in constant work: an unknown user still costs one argon2 verification."""
    ph = hasher(settings)
    target = stored_hash or _dummy_hash(
        settings.argon2_time_cost, settings.argon2_memory_kib, settings.argon2_parallelism
    )
    try:
        ok = ph.verify(target, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
    return ok and stored_hash is not None


def new_token() -> str:
    """256 random bits, URL-safe, with a recognisable prefix (helps secret scanners)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_digest(settings: Settings, token: str) -> str:
    return hmac.new(settings.secret_key.encode(), token.encode(), hashlib.sha256).hexdigest()
