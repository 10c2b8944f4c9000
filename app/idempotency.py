"""``Idempotency-Key`` on create operations: a retried POST whose answer was lost gets that answer again.

A client (or a load balancer) that sends a create with ``Idempotency-Key: <key>`` and retries it with the
same key and the same request within 24 hours gets the first answer again — status, body, ``Location`` and
``ETag``, plus ``Idempotent-Replayed: true`` — and nothing is created twice.

- The answer is stored in the same transaction as the work it answers, so it is remembered exactly when the
  work committed. A request that fails (any 4xx or 5xx) rolls back and is not remembered: a corrected retry
  with the same key does the work.
- Keys are per user and shared by every instance through the database. The same key with a different
  request (method, path, query or body) is a 422; while the first request with a key is still running, a
  second one is a 409 (PostgreSQL: a transaction-scoped advisory lock on the key; SQLite lets one writer in
  at a time, so the second waits and then gets the replay).
- Expired keys are purged a batch at a time by the requests that send a key.

An endpoint opts in with an ``IdempotencyDep`` parameter and ends with
``return idem.remember(result, response)``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

from fastapi import Depends, Header, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile

from app.deps import CurrentUser, SessionDep
from app.errors import Conflict, ValidationFailed, field_error
from app.models import IdempotencyKey
from app.models.base import utcnow

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
REMEMBERED = timedelta(hours=24)
MAX_KEY_LENGTH = 255
REPLAYED_HEADERS = ("location", "etag")
PURGE_BATCH = 100
LOC = ["header", HEADER]

KeyHeader = Annotated[
    str | None,
    Header(
        alias=HEADER,
        min_length=1,
        max_length=MAX_KEY_LENGTH,
        description="A unique value per create (a UUID is ideal), at most 255 printable ASCII characters. "
        "Retrying with the same key and the same request within 24 hours answers with the first answer "
        f"(and `{REPLAYED}: true`) instead of creating again; the same key with another request is a 422, "
        "and while the first is still running a 409. Failed requests are not remembered.",
        json_schema_extra={"pattern": "^[\\x20-\\x7e]{1,255}$"},
    ),
]


class Replay(Exception):  # noqa: N818 - not an error: the stored answer, sent instead of running the endpoint
    def __init__(self, response: Response) -> None:
        super().__init__("replayed")
        self.response = response


def install(app) -> None:
    """Answer a ``Replay`` raised by the dependency with its stored response."""

    async def _replay(request: Request, exc: Replay) -> Response:
        return exc.response

    app.add_exception_handler(Replay, _replay)


def _feed(h, *parts: str | bytes) -> None:
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        h.update(len(data).to_bytes(8, "big"))
        h.update(data)


async def request_fingerprint(request: Request) -> str | None:
    """SHA-256 of the method, path, query and body; ``None`` when no key is sent.

    A JSON body is compared as JSON (key order and spacing do not matter); a form compares its fields and
    the names and bytes of its files, not the multipart boundary a client picks anew for each send.
    """
    if HEADER.lower() not in request.headers:
        return None
    h = hashlib.sha256()
    _feed(h, request.method, request.url.path, request.url.query)
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
        form = await request.form()  # the form FastAPI already parsed for the endpoint
        for name, value in sorted(form.multi_items(), key=lambda item: item[0]):
            if isinstance(value, UploadFile):
                _feed(h, name, "file", value.filename or "")
                await value.seek(0)
                while chunk := await value.read(1 << 16):
                    _feed(h, chunk)
                await value.seek(0)
            else:
                _feed(h, name, "field", value)
        return h.hexdigest()
    body = await request.body()
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    except ValueError:
        canonical = body
    _feed(h, "body", canonical)
    return h.hexdigest()


def check_key(key: str) -> None:
    if not all(" " <= ch <= "~" for ch in key):
        raise ValidationFailed(
            f"The {HEADER} header is not valid.",
            errors=[
                field_error(
                    LOC,
                    "must be printable ASCII (letters, digits, punctuation, spaces), no control characters",
                )
            ],
        )


def lock_id(user_id: int, key: str) -> int:
    """The PostgreSQL advisory lock that a request holds while it works under ``key``."""
    digest = hashlib.sha256(f"idempotency\0{user_id}\0{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def purge_expired(session: Session, now) -> None:
    """Delete a batch of expired keys (rows another request is deleting are skipped, not waited for)."""
    expired = (
        select(IdempotencyKey.id)
        .where(IdempotencyKey.expires_at <= now)
        .order_by(IdempotencyKey.id)
        .limit(PURGE_BATCH)
        .with_for_update(skip_locked=True)
    )
    session.execute(delete(IdempotencyKey).where(IdempotencyKey.id.in_(expired)))


def stored_response(row: IdempotencyKey) -> Response:
    headers = {**row.response_headers, REPLAYED: "true"}
    return Response(
        row.response_body, status_code=row.status_code, headers=headers, media_type="application/json"
    )


@dataclass
class Idempotency:
    """The request's key (``None`` when none was sent) and how to remember its answer."""

    session: Session
    request: Request
    user_id: int
    key: str | None
    fingerprint: str | None

    def remember(self, result: Any, response: Response) -> Any:
        """The endpoint's answer: with a key, stored with the work's transaction and sent as stored."""
        if self.key is None:
            return result
        route = self.request.scope.get("route")
        status = response.status_code or getattr(route, "status_code", None) or 200
        body = JSONResponse(jsonable_encoder(result)).body.decode()
        headers = {name: response.headers[name] for name in REPLAYED_HEADERS if name in response.headers}
        now = utcnow()
        self.session.add(
            IdempotencyKey(
                user_id=self.user_id,
                key=self.key,
                method=self.request.method,
                path=self.request.url.path,
                request_sha256=self.fingerprint,
                status_code=status,
                response_headers=headers,
                response_body=body,
                created_at=now,
                expires_at=now + REMEMBERED,
            )
        )
        self.session.flush()
        return Response(body, status_code=status, headers=headers, media_type="application/json")


def idempotency(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    fingerprint: Annotated[str | None, Depends(request_fingerprint)],
    key: KeyHeader = None,
) -> Idempotency:
    """Check the key: replay a remembered answer, refuse a key in use or reused for another request."""
    idem = Idempotency(session, request, user.id, key, fingerprint)
    if key is None:
        return idem
    check_key(key)
    now = utcnow()
    purge_expired(session, now)
    postgres = session.get_bind().dialect.name == "postgresql"
    if postgres and not session.scalar(select(func.pg_try_advisory_xact_lock(lock_id(user.id, key)))):
        raise Conflict(
            f"A request with this {HEADER} is still being processed; "
            "retry once it has answered to get its answer.",
            errors=[field_error(LOC, "a request with this key is still in progress", "in_progress")],
            headers={"Retry-After": "1"},
        )
    row = session.scalar(
        select(IdempotencyKey).where(IdempotencyKey.user_id == user.id, IdempotencyKey.key == key)
    )
    if row is not None and row.expires_at <= now:
        session.delete(row)
        session.flush()
        row = None
    if row is None:
        return idem
    if row.request_sha256 != fingerprint:
        raise ValidationFailed(
            f"This {HEADER} was already used for a different request ({row.method} {row.path}, "
            f"answered {row.status_code}); use a new key for a new request.",
            errors=[field_error(LOC, "already used with a different request", "idempotency_key_reused")],
        )
    raise Replay(stored_response(row))


IdempotencyDep = Annotated[Idempotency, Depends(idempotency)]
