"""Proposal import from CSV or XLSX: the whole file lands, or nothing does and every bad cell is named.

Layout (one header row, then one proposal per row; see docs/import.md):
``reference, title, capability, kind, lead, summary, fte_change, status, proposer_email``,
then ``cost_<year>`` and ``saving_<year>`` for each financial year of the cycle (``cost_2022-23``), then
``self_assessment_1`` … ``self_assessment_12``. Only title, capability, kind and lead are required.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.audit.service import record
from app.cycles.service import get_cycle
from app.errors import PayloadTooLarge, UnsupportedMediaType, ValidationFailed
from app.models import Cycle, Proposal, ProposalStatus, User
from app.money import parse_fixed2
from app.proposals import service
from app.proposals.schemas import ProposalCreate

MAX_ROWS = 5000
# What is read of a file, bounded before any row is parsed (a sheet may declare A1:XFD1048576, and a small
# zip may hold a huge member). The template has at most 41 columns (10 financial years); the slack covers
# notes columns, which are then named as unknown.
MAX_COLUMNS = 100
MAX_SHEET_ROWS = 2 * MAX_ROWS  # rows read, blank ones included; at most MAX_ROWS of them may hold proposals
MAX_LINE_CHARS = 200_000  # one CSV record: a long summary and twelve self-assessments fit well within it
MAX_UNZIPPED_BYTES = 64 * 1024 * 1024  # all members of an .xlsx together, uncompressed
MAX_ZIP_MEMBERS = 1000
MAX_ZIP_RATIO = 200  # uncompressed to compressed, for any member over 1 MiB
BASE_COLUMNS = (
    "reference",
    "title",
    "capability",
    "kind",
    "lead",
    "summary",
    "fte_change",
    "status",
    "proposer_email",
)
REQUIRED = ("title", "capability", "kind", "lead")
REFERENCE_RULE = (
    "must start with a letter or digit and hold only letters, digits, full stops, underscores, "
    "slashes and hyphens, at most 40 characters"
)
SA_COLUMNS = tuple(f"self_assessment_{n}" for n in range(1, 13))


class ImportedRow(BaseModel):
    row: int
    id: int
    reference: str


class ImportResult(BaseModel):
    imported: int
    proposals: list[ImportedRow]


def columns_for(cycle: Cycle) -> list[str]:
    money = [f"{kind}_{year}" for year in cycle.financial_years for kind in ("cost", "saving")]
    return [*BASE_COLUMNS, *money, *SA_COLUMNS]


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        # A spreadsheet number: its shortest repr is what was typed (1250000.5 stays 1250000.5).
        return repr(value) if not value.is_integer() else str(int(value))
    return str(value).strip()


def read_rows(filename: str, content: bytes) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """Header and ``(spreadsheet row number, {column: text})`` for each non-empty row."""
    name = filename.lower()
    if content[:4] == b"PK\x03\x04" or name.endswith(".xlsx"):
        return _read_xlsx(content)
    if name.endswith(".csv") or not name or b"\x00" not in content[:1024]:
        return _read_csv(content)
    raise UnsupportedMediaType("Upload a .csv (UTF-8) or .xlsx file.")


def _read_csv(content: bytes) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationFailed(
            "The CSV file is not UTF-8 text.",
            errors=[
                {
                    "loc": ["file"],
                    "row": None,
                    "column": None,
                    "msg": f"not UTF-8 at byte {exc.start}",
                    "type": "encoding",
                }
            ],
        ) from None
    rows = []
    try:
        for record in csv.reader(io.StringIO(text, newline="")):
            number = len(rows) + 1
            if number > MAX_SHEET_ROWS:
                raise _too_big(
                    f"the file has more than {MAX_SHEET_ROWS:,} lines; "
                    f"at most {MAX_ROWS:,} proposals per import"
                )
            if sum(len(cell) for cell in record) > MAX_LINE_CHARS:
                raise _too_big(f"row {number} is longer than {MAX_LINE_CHARS:,} characters", row=number)
            if len(record) > MAX_COLUMNS:
                raise _too_big(
                    f"row {number} has {len(record)} columns; at most {MAX_COLUMNS} are read", row=number
                )
            rows.append(record)
    except csv.Error as exc:
        raise ValidationFailed(
            "The CSV file could not be read.",
            errors=[_err(len(rows) + 1, None, f"not readable as CSV: {exc}", "csv")],
        ) from None
    return _shape(rows)


def _too_big(msg: str, row: int | None = None) -> ValidationFailed:
    return ValidationFailed(f"The file was not imported: {msg}.", errors=[_err(row, None, msg, "too_large")])


def _check_zip(content: bytes) -> None:
    """Refuse an .xlsx whose members would unzip to more than the limits, before anything is unzipped."""
    try:
        members = zipfile.ZipFile(io.BytesIO(content)).infolist()
    except (zipfile.BadZipFile, ValueError, OSError):
        raise UnsupportedMediaType("The file is not a readable .xlsx workbook.") from None
    if len(members) > MAX_ZIP_MEMBERS:
        raise PayloadTooLarge(f"The workbook has {len(members)} parts; at most {MAX_ZIP_MEMBERS} are read.")
    total = sum(m.file_size for m in members)
    if total > MAX_UNZIPPED_BYTES:
        raise PayloadTooLarge(
            f"The workbook unzips to {total:,} bytes; at most {MAX_UNZIPPED_BYTES:,} are read. "
            "Remove unused sheets, images and formatting, or import it as CSV."
        )
    for m in members:
        if m.file_size > 1024 * 1024 and m.file_size > MAX_ZIP_RATIO * max(m.compress_size, 1):
            raise PayloadTooLarge(
                f"The workbook part {m.filename} unzips to {m.file_size:,} bytes from {m.compress_size:,}; "
                "a workbook compressed this much is not read."
            )


def _read_xlsx(content: bytes) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    from openpyxl import load_workbook

    _check_zip(content)
    try:
        wb = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception:
        raise UnsupportedMediaType("The file is not a readable .xlsx workbook.") from None
    try:
        if not wb.worksheets:
            raise ValidationFailed(
                "The workbook has no sheets.",
                errors=[_err(None, None, "the workbook has no sheets; put the proposals on its first sheet")],
            )
        ws = wb.worksheets[0]
        # The sheet's declared size (<dimension ref="A1:XFD2000"/>): openpyxl would pad every row to it.
        declared_cols, declared_rows = ws.max_column or 0, ws.max_row or 0
        if declared_cols > MAX_COLUMNS or declared_rows > MAX_SHEET_ROWS:
            raise _too_big(
                f"the first sheet declares {declared_rows:,} rows and {declared_cols:,} columns; "
                f"at most {MAX_SHEET_ROWS:,} rows and {MAX_COLUMNS} columns are read"
            )
        rows = []
        # Bounded again while reading, for sheets that declare no size (or a false one).
        for row in ws.iter_rows(max_row=MAX_SHEET_ROWS + 1, max_col=MAX_COLUMNS + 1, values_only=True):
            number = len(rows) + 1
            if number > MAX_SHEET_ROWS:
                raise _too_big(
                    f"the first sheet has more than {MAX_SHEET_ROWS:,} rows; at most {MAX_ROWS:,} proposals "
                    "per import"
                )
            if len(row) > MAX_COLUMNS and row[MAX_COLUMNS] not in (None, ""):
                raise _too_big(f"row {number} has more than {MAX_COLUMNS} columns", row=number)
            rows.append([_cell_text(v) for v in row[:MAX_COLUMNS]])
    except (ValidationFailed, PayloadTooLarge):
        raise
    except Exception:
        raise UnsupportedMediaType("The file is not a readable .xlsx workbook.") from None
    finally:
        wb.close()
    return _shape(rows)


def _shape(rows: list[list[Any]]) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    if not rows:
        return [], []
    header = [str(h).strip().lower() for h in rows[0]]
    while header and not header[-1]:
        header.pop()
    out = []
    for number, raw in enumerate(rows[1:], start=2):
        cells = [_cell_text(v) for v in raw]
        if not any(cells):
            continue
        out.append((number, {h: (cells[i] if i < len(cells) else "") for i, h in enumerate(header) if h}))
    return header, out


def _err(row: int | None, column: str | None, msg: str, type_: str = "value_error") -> dict:
    loc: list[Any] = ["file"]
    if row is not None:
        loc.append(row)
    if column is not None:
        loc.append(column)
    return {"loc": loc, "row": row, "column": column, "msg": msg, "type": type_}


def cell_message(error: dict) -> str:
    """A validation error on one cell in the words of the file's author: what the cell must hold
    ("must be one of investment, efficiency or reinvestment"), never a validator's "Input should…"."""
    kind = error.get("type", "")
    ctx = error.get("ctx") or {}
    if kind in ("enum", "literal_error") and ctx.get("expected"):
        return "must be one of " + str(ctx["expected"]).replace("'", "")
    if kind == "string_too_long" and ctx.get("max_length"):
        return f"must be at most {ctx['max_length']} characters"
    if kind == "string_too_short" and ctx.get("min_length"):
        return "required" if ctx["min_length"] == 1 else f"must be at least {ctx['min_length']} characters"
    if kind == "string_pattern_mismatch":
        if tuple(error.get("loc") or ())[-1:] == ("reference",):
            return REFERENCE_RULE
        return "is not in the expected format"
    msg = str(error.get("msg", "")).removeprefix("Value error, ").removeprefix("Assertion failed, ")
    return re.sub(r"^(Input|String|Value|Decimal) should", "must", msg)


def _row_error(number: int, data: ProposalCreate, error: dict) -> dict:
    """A service's field error on one row, told as the import tells it."""
    column = str(error["loc"][-1]) if error.get("loc") else None
    if column == "reference" and error.get("type") == "unique":
        return _err(number, column, f"{data.reference} already exists in this cycle", "unique")
    return _err(number, column, error["msg"], error.get("type", "value_error"))


def _column_of(loc: tuple, cycle: Cycle, data: dict[str, Any]) -> str:
    if not loc:
        return ""
    head = loc[0]
    if head == "financials" and len(loc) >= 3:
        line = data["financials"][loc[1]]
        return f"{loc[2]}_{line['year']}"
    if head == "self_assessment":
        return "self_assessment_*"
    return str(head)


def parse_row(cycle: Cycle, number: int, row: dict[str, str]) -> tuple[ProposalCreate | None, list[dict]]:
    """Validate one row with the same rules as the API; every bad cell is reported, not just the first."""
    errors: list[dict] = []
    financials = []
    for year in cycle.financial_years:
        line: dict[str, Any] = {"year": year}
        for kind in ("cost", "saving"):
            col = f"{kind}_{year}"
            text = row.get(col, "")
            try:
                line[kind] = parse_fixed2(text) if text else Decimal("0")
            except ValueError as exc:
                errors.append(_err(number, col, str(exc)))
                line[kind] = Decimal("0")
        financials.append(line)
    data: dict[str, Any] = {
        "cycle_id": cycle.id,
        "reference": row.get("reference") or None,
        "title": row.get("title", ""),
        "capability": row.get("capability", ""),
        "kind": row.get("kind", "").lower() or None,
        "lead": row.get("lead", ""),
        "summary": row.get("summary", ""),
        "fte_change": row.get("fte_change") or "0",
        "status": (row.get("status") or "submitted").lower(),
        "financials": financials,
        "self_assessment": {str(n): row.get(f"self_assessment_{n}", "") for n in range(1, 13)},
    }
    try:
        parsed = ProposalCreate.model_validate(data)
    except ValidationError as exc:
        for e in exc.errors():
            col = _column_of(tuple(e["loc"]), cycle, data)
            msg = "required" if col in REQUIRED and not row.get(col) else cell_message(e)
            errors.append(_err(number, col, msg, e["type"]))
        return None, errors
    if parsed.status == ProposalStatus.submitted:  # the one completeness rule: a draft may leave them empty
        for name, _ in service.NEEDED_TO_SUBMIT:
            if not getattr(parsed, name):
                errors.append(_err(number, name, "required", "missing"))
    return (None if errors else parsed), errors


def import_file(
    session: Session, actor: User, cycle_id: int, filename: str, content: bytes, max_bytes: int
) -> ImportResult:
    if len(content) > max_bytes:
        raise PayloadTooLarge(f"The file is larger than {max_bytes} bytes.")
    cycle = get_cycle(session, cycle_id)
    header, rows = read_rows(filename, content)
    expected = columns_for(cycle)
    errors: list[dict] = []
    unknown = [h for h in header if h and h not in expected]
    for h in unknown:
        errors.append(_err(1, h, "unknown column; expected columns are: " + ", ".join(expected)))
    for col in REQUIRED:
        if col not in header:
            errors.append(_err(1, col, "required column is missing"))
    if not rows and not errors:
        errors.append(_err(None, None, "the file has no proposal rows"))
    if len(rows) > MAX_ROWS:
        errors.append(_err(None, None, f"at most {MAX_ROWS} rows per import"))
    if errors:
        raise ValidationFailed(f"The file was not imported: {len(errors)} problem(s).", errors=errors)

    parsed: list[tuple[int, ProposalCreate, int | None]] = []
    seen_refs: dict[str, int] = {}
    emails = {r.get("proposer_email", "").lower() for _, r in rows if r.get("proposer_email")}
    users = (
        dict(
            session.execute(
                select(func.lower(User.email), User.id).where(func.lower(User.email).in_(emails))
            ).all()
        )
        if emails
        else {}
    )
    existing = {
        ref.lower()
        for ref in session.scalars(select(Proposal.reference).where(Proposal.cycle_id == cycle.id))
    }
    for number, row in rows:
        data, row_errors = parse_row(cycle, number, row)
        email = row.get("proposer_email", "")
        proposer_id = None
        if email:
            proposer_id = users.get(email.lower())
            if proposer_id is None:
                row_errors.append(_err(number, "proposer_email", f"no user has the email {email}"))
        reference = row.get("reference", "")
        if reference:
            key = reference.lower()
            if key in existing:
                row_errors.append(
                    _err(number, "reference", f"{reference} already exists in this cycle", "unique")
                )
            elif key in seen_refs:
                row_errors.append(
                    _err(number, "reference", f"{reference} also appears in row {seen_refs[key]}", "unique")
                )
            seen_refs.setdefault(key, number)
        errors.extend(row_errors)
        if data is not None and not row_errors:
            parsed.append((number, data, proposer_id))
    if errors:
        bad_rows = len({e["row"] for e in errors})
        raise ValidationFailed(
            f"The file was not imported: {len(errors)} problem(s) in {bad_rows} row(s); nothing was changed.",
            errors=errors,
        )
    imported = []
    for number, data, proposer_id in parsed:
        try:
            proposal = service.create_proposal(session, actor, data, cycle=cycle, proposer_id=proposer_id)
        except ValidationFailed as exc:
            # Only a write committed meanwhile gets here (a reference taken since the file was checked).
            raise ValidationFailed(
                "The file was not imported: 1 problem(s) in 1 row(s); nothing was changed.",
                errors=[_row_error(number, data, e) for e in exc.errors or []],
            ) from None
        imported.append(ImportedRow(row=number, id=proposal.id, reference=proposal.reference))
    record(
        session,
        actor,
        "proposals.imported",
        "cycle",
        cycle.id,
        changes={"file": filename, "rows": len(imported), "references": [i.reference for i in imported]},
    )
    return ImportResult(imported=len(imported), proposals=imported)
