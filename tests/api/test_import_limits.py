"""Hostile import files are refused quickly, before their rows are parsed: a workbook without sheets, a
sheet declaring a huge size, a zip member that unzips to far more than was sent, too many rows, and CSV
lines too long or too many."""

from __future__ import annotations

import io
import re
import time
import zipfile

from openpyxl import Workbook

from app.proposals.importer import MAX_COLUMNS, MAX_LINE_CHARS, MAX_SHEET_ROWS

API = "/api/v1"
PROBLEM = "application/problem+json"
HEADER = ["title", "capability", "kind", "lead"]


def workbook(rows: int = 1) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.append(HEADER)
    for n in range(rows):
        ws.append([f"Proposal {n}", "Digital", "investment", "DCI A"])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def rewrite(content: bytes, edit: dict, extra: dict | None = None, level: int = 6) -> bytes:
    """The same workbook with members changed by ``edit[name](text)`` and ``extra`` members added."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(content)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename in edit:
                data = edit[info.filename](data.decode()).encode()
            dst.writestr(info.filename, data, compresslevel=level)
        for name, data in (extra or {}).items():
            dst.writestr(name, data, compresslevel=9)
    return out.getvalue()


# A refusal reads a few kB; the files these tests send used to take many seconds (and hundreds of MB) to
# refuse. The bound leaves room for a loaded machine running the suite on every core.
QUICK_S = 2.5


def upload(client, admin, cycle, name: str, content: bytes, media: str):
    start = time.perf_counter()
    r = client.post(
        f"{API}/cycles/{cycle['id']}/proposals/import",
        headers=admin.headers,
        files={"file": (name, content, media)},
    )
    return r, time.perf_counter() - start


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def count(client, admin, cycle) -> int:
    r = client.get(f"{API}/proposals", params={"cycle_id": cycle["id"]}, headers=admin.headers)
    return r.json()["total"]


def test_a_plain_workbook_still_imports(client, factory, admin):
    cycle = factory.cycle(admin)
    r, _ = upload(client, admin, cycle, "p.xlsx", workbook(3), XLSX)
    assert r.status_code == 201, r.text
    assert r.json()["imported"] == 3


def test_a_workbook_without_sheets_is_refused(client, factory, admin):
    cycle = factory.cycle(admin)
    content = rewrite(
        workbook(), {"xl/workbook.xml": lambda t: re.sub(r"<sheets>.*</sheets>", "<sheets/>", t)}
    )
    r, _ = upload(client, admin, cycle, "p.xlsx", content, XLSX)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith(PROBLEM)
    assert "no sheets" in r.json()["errors"][0]["msg"]


def test_a_sheet_declaring_a_huge_size_is_refused_before_reading(client, factory, admin):
    """1.4 kB declaring A1:XFD2000 used to take seconds and hundreds of MB: every row padded to 16,384."""
    cycle = factory.cycle(admin)
    sheet = "xl/worksheets/sheet1.xml"
    for ref in ("A1:XFD2000", "A1:D1048576"):
        content = rewrite(
            workbook(),
            {sheet: lambda t, ref=ref: re.sub(r'<dimension ref="[^"]*"', f'<dimension ref="{ref}"', t)},
        )
        assert ref.encode() in zipfile.ZipFile(io.BytesIO(content)).read(sheet)
        assert len(content) < 10_000
        r, elapsed = upload(client, admin, cycle, "p.xlsx", content, XLSX)
        assert r.status_code == 422, r.text
        assert r.headers["content-type"].startswith(PROBLEM)
        msg = r.json()["errors"][0]["msg"]
        assert "declares" in msg and f"{MAX_COLUMNS} columns" in msg, msg
        assert elapsed < QUICK_S, f"{elapsed:.2f} s"
    assert count(client, admin, cycle) == 0


def test_a_sheet_with_too_many_rows_and_no_declared_size_stops_early(client, factory, admin):
    cycle = factory.cycle(admin)
    sheet = "xl/worksheets/sheet1.xml"
    content = rewrite(workbook(MAX_SHEET_ROWS + 10), {sheet: lambda t: re.sub(r"<dimension [^>]*/>", "", t)})
    r, elapsed = upload(client, admin, cycle, "p.xlsx", content, XLSX)
    assert r.status_code == 422, r.text
    assert f"more than {MAX_SHEET_ROWS:,} rows" in r.json()["errors"][0]["msg"]
    assert elapsed < 3.0, f"{elapsed:.2f} s"


def test_a_workbook_unzipping_to_far_more_is_refused_before_unzipping(client, factory, admin):
    cycle = factory.cycle(admin)
    for size in (2 * 1024 * 1024, 80 * 1024 * 1024):  # a highly compressible member; a huge total
        content = rewrite(workbook(), {}, extra={"xl/media/padding.bin": b"\0" * size})
        assert len(content) < 200_000
        r, elapsed = upload(client, admin, cycle, "p.xlsx", content, XLSX)
        assert r.status_code == 413, r.text
        assert r.headers["content-type"].startswith(PROBLEM)
        assert "unzips to" in r.json()["detail"]
        assert elapsed < QUICK_S, f"{elapsed:.2f} s"
    assert count(client, admin, cycle) == 0


def test_csv_rows_and_lines_are_bounded(client, factory, admin):
    cycle = factory.cycle(admin)
    head = ",".join(HEADER) + "\n"
    many = (head + "A title,Digital,investment,DCI A\n" * (MAX_SHEET_ROWS + 5)).encode()
    r, elapsed = upload(client, admin, cycle, "p.csv", many, "text/csv")
    assert r.status_code == 422, r.text
    assert f"more than {MAX_SHEET_ROWS:,} lines" in r.json()["errors"][0]["msg"]
    assert elapsed < QUICK_S, f"{elapsed:.2f} s"

    long = (
        head + "A title,Digital,investment," + "x" * (MAX_LINE_CHARS // 2) + "," + "y" * MAX_LINE_CHARS
    ).encode()
    r, _ = upload(client, admin, cycle, "p.csv", long, "text/csv")
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["msg"]

    wide = (head + "A title,Digital,investment,DCI A" + ",x" * (MAX_COLUMNS + 10) + "\n").encode()
    r, _ = upload(client, admin, cycle, "p.csv", wide, "text/csv")
    assert r.status_code == 422, r.text
    assert f"at most {MAX_COLUMNS} are read" in r.json()["errors"][0]["msg"]
    assert count(client, admin, cycle) == 0
