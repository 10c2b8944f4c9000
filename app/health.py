from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from app.errors import problem
from app.migrate import current_revision, head_revision

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness: the process answers")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness: the database answers and its schema is at the migration head")
def readyz(request: Request) -> JSONResponse:
    db = request.app.state.db
    settings = request.app.state.settings
    try:
        with db.read_engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        current = current_revision(db.read_engine)
    except Exception as exc:  # noqa: BLE001 - any database failure means not ready
        return problem(
            request, 503, "Not ready", f"The database is not reachable: {type(exc).__name__}.", "not-ready"
        )
    head = head_revision(settings.database_url)
    if current != head:
        return problem(
            request,
            503,
            "Not ready",
            f"The database schema is at {current}, not at the migration head {head}; run `serr migrate`.",
            "not-ready",
            extra={"current": current, "head": head},
        )
    return JSONResponse({"status": "ready", "database": db.engine.dialect.name, "migration": current})
