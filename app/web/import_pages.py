"""Importing proposals from a CSV or XLSX file on the web: choose a cycle, download its template, upload.

The upload goes through ``importer.import_file``, the function behind the API's
POST /cycles/{id}/proposals/import, with the same size limit: the whole file lands or nothing does, and a
refused file comes back with every bad cell named by row and column (and, here, the value it held).
Who may import is the API's rule: admins and chairs.
"""

from __future__ import annotations

import csv
import io
from typing import Annotated, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile

from app.cycles.service import get_cycle
from app.deps import SessionDep, SettingsDep
from app.errors import Forbidden, ServiceError, ValidationFailed
from app.models import AuditEvent, Cycle, Proposal, Role
from app.proposals import importer
from app.rankings.endpoints import CSV, XLSX
from app.web.forms import FormError, form_int, last_event_id, query_int
from app.web.render import render
from app.web.session import Web, WebUser, checked_form

router = APIRouter(include_in_schema=False)
IMPORTERS = (Role.admin, Role.chair)  # as the API's import (ChairOrAdmin)


def _importer(web: Web) -> None:
    if not web.user.has_role(*IMPORTERS):
        raise Forbidden("Importing proposals is for admins and chairs.")


def _size(n: int) -> str:
    return f"{n / (1024 * 1024):g} MB" if n >= 1024 * 1024 else f"{n / 1024:g} KB"


def _page(
    request: Request,
    web: Web,
    session: Session,
    settings,
    cycle: Cycle | None,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    problems: list[dict] | None = None,
    refusal: str | None = None,
    imported: list[dict] | None = None,
    filename: str = "",
):
    cycles = list(session.scalars(select(Cycle).order_by(Cycle.id.desc())))
    return render(
        request,
        "import.html",
        web,
        status=status,
        title="Import proposals",
        cycles=cycles,
        cycle=cycle,
        columns=importer.columns_for(cycle) if cycle else [],
        required=importer.REQUIRED,
        max_size=_size(settings.max_upload_bytes),
        max_rows=importer.MAX_ROWS,
        errors=errors or {},
        problems=problems,
        refusal=refusal,
        imported=imported,
        filename=filename,
    )


def _imported(session: Session, web: Web, cycle: Cycle, event_id: int) -> tuple[list[dict], str] | None:
    """The proposals one's own import into ``cycle`` created (its audit record names them), for the page
    the upload redirects to: reloading that page shows them again and imports nothing."""
    event = session.get(AuditEvent, event_id)
    if (
        event is None
        or event.action != "proposals.imported"
        or event.actor_id != web.user.id
        or event.entity_id != str(cycle.id)
    ):
        return None
    references = list(event.changes.get("references") or [])
    rows = session.execute(
        select(Proposal.id, Proposal.reference, Proposal.title).where(
            Proposal.cycle_id == cycle.id, Proposal.reference.in_(references)
        )
    ).all()
    by_reference = {r.reference: r for r in rows}
    created = [
        {"id": r.id, "reference": r.reference, "title": r.title}
        for r in (by_reference.get(ref) for ref in references)
        if r is not None
    ]
    return created, str(event.changes.get("file") or "")


@router.get("/admin/import", response_class=HTMLResponse)
def import_page(
    request: Request,
    web: WebUser,
    session: SessionDep,
    settings: SettingsDep,
    cycle_id: Annotated[int | None, query_int("cycle_id")],
    imported: Annotated[int | None, query_int("imported")],
):
    _importer(web)
    cycle = get_cycle(session, cycle_id) if cycle_id is not None else None
    done = _imported(session, web, cycle, imported) if cycle and imported is not None else None
    if done is None:
        return _page(request, web, session, settings, cycle)
    return _page(request, web, session, settings, cycle, imported=done[0], filename=done[1])


def template_csv(columns: list[str]) -> bytes:
    buf = io.StringIO(newline="")
    csv.writer(buf, lineterminator="\r\n").writerow(columns)
    return buf.getvalue().encode("utf-8-sig")


def template_xlsx(columns: list[str]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    ws.title = "Proposals"
    ws.append(columns)
    for cell in ws[1]:
        cell.font = Font(bold=True)
    ws.freeze_panes = "A2"
    for index, name in enumerate(columns, start=1):
        letter = ws.cell(row=1, column=index).column_letter
        ws.column_dimensions[letter].width = max(12, min(len(name) + 4, 40))
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


@router.get("/admin/import/template.{fmt}")
def template(
    fmt: Literal["csv", "xlsx"],
    web: WebUser,
    session: SessionDep,
    cycle_id: Annotated[int | None, query_int("cycle_id")],
):
    """The header row the importer expects for a cycle (``importer.columns_for``), as CSV or XLSX."""
    _importer(web)
    if cycle_id is None:
        raise FormError("cycle_id", "Choose the cycle whose template you want.")
    cycle = get_cycle(session, cycle_id)
    columns = importer.columns_for(cycle)
    body = template_csv(columns) if fmt == "csv" else template_xlsx(columns)
    stem = "".join(c if c.isalnum() else "-" for c in cycle.name).strip("-").lower() or f"cycle-{cycle.id}"
    return Response(
        body,
        media_type=CSV if fmt == "csv" else XLSX,
        headers={"Content-Disposition": f'attachment; filename="proposals-{stem}.{fmt}"'},
    )


def _cells(filename: str, content: bytes) -> dict[tuple[int, str], str]:
    """What each cell of the file held, to show beside its problem (empty when the file cannot be read)."""
    try:
        _, rows = importer.read_rows(filename, content)
    except ServiceError:
        return {}
    return {(number, column): value for number, row in rows for column, value in row.items()}


def _problems(exc: ServiceError, cells: dict[tuple[int, str], str]) -> list[dict]:
    out = []
    for e in exc.errors or []:
        row, column = e.get("row"), e.get("column")
        value = cells.get((row, column)) if row is not None and column else None
        if row == 1 and column:  # a header cell: the column's name is what it holds
            value = None
        out.append({"row": row, "column": column, "value": value, "msg": e.get("msg", "")})
    return out


@router.post("/admin/import", response_class=HTMLResponse)
def upload(
    request: Request, web: WebUser, session: SessionDep, settings: SettingsDep, form=Depends(checked_form)
):
    _importer(web)
    cycle = get_cycle(session, form_int(form, "cycle_id", label="cycle"))
    file = form.get("file")
    if not isinstance(file, UploadFile) or not file.filename:
        errors = {"file": "Choose a CSV or Excel (.xlsx) file to upload."}
        return _page(request, web, session, settings, cycle, status=422, errors=errors)
    content = file.file.read(settings.max_upload_bytes + 1)
    filename = file.filename
    if not content:
        errors = {"file": f"The file {filename} is empty. Choose the file with your proposals."}
        return _page(request, web, session, settings, cycle, status=422, errors=errors)
    try:
        with session.begin_nested():
            importer.import_file(session, web.user, cycle.id, filename, content, settings.max_upload_bytes)
    except ValidationFailed as exc:
        problems = _problems(exc, _cells(filename, content))
        return _page(
            request,
            web,
            session,
            settings,
            cycle,
            status=422,
            problems=problems,
            refusal=exc.detail,
            filename=filename,
        )
    except ServiceError as exc:  # too large, not a CSV or workbook
        errors = {"file": exc.detail}
        return _page(request, web, session, settings, cycle, status=exc.status, errors=errors)
    # Post/redirect/get: the page after the upload is an address of its own, so that reloading it shows
    # the result again instead of sending the file a second time. The import's audit record names it.
    event_id = last_event_id(
        session,
        web.user.id,
        AuditEvent.action == "proposals.imported",
        AuditEvent.entity_id == str(cycle.id),
    )
    query = {"cycle_id": cycle.id} | ({"imported": event_id} if event_id is not None else {})
    return RedirectResponse(f"/admin/import?{urlencode(query)}", status_code=303)
