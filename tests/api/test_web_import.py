"""The web import page: a cycle's template (CSV and XLSX) is what the importer reads; a file with bad cells
is refused whole, every bad cell shown with its row, column and value; a good file creates every
proposal, each linked. On SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import html
import io
import re

from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import func, select

from app.models import AuditEvent, Proposal
from tests.api.test_web_sessions import csrf_of, sign_in

YEARS = ["2022-23", "2023-24"]
SOME_COLUMNS = ["title", "capability", "kind", "lead", "cost_2022-23"]


def signed_in(app, actor) -> TestClient:
    c = TestClient(app, raise_server_exceptions=False)
    assert sign_in(c, actor.email).status_code == 303
    return c


def proposals_in(db, cycle_id: int) -> int:
    with db.unit_of_work(write=False) as s:
        return s.scalar(select(func.count()).select_from(Proposal).where(Proposal.cycle_id == cycle_id))


def imports_audited(db) -> int:
    with db.unit_of_work(write=False) as s:
        return s.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "proposals.imported")
        )


def upload(c: TestClient, cycle_id: int, name: str, content: bytes):
    page = c.get("/admin/import", params={"cycle_id": cycle_id})
    assert page.status_code == 200
    return c.post(
        "/admin/import",
        data={"csrf_token": csrf_of(page.text), "cycle_id": str(cycle_id)},
        files={"file": (name, content, "application/octet-stream")},
    )


def template_csv(c: TestClient, cycle_id: int) -> list[str]:
    r = c.get("/admin/import/template.csv", params={"cycle_id": cycle_id})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    return next(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))


def as_csv(header: list[str], rows: list[dict[str, str]]) -> bytes:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=header)
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue().encode()


def row(n: int, **cells: str) -> dict[str, str]:
    return {
        "title": f"Imported proposal {n}",
        "capability": "Estates",
        "kind": "efficiency",
        "lead": "Ms Lead",
        "cost_2022-23": "1000.50",
        **cells,
    }


def cells_of(page: str) -> list[list[str]]:
    """The problems table: each row's cells as text."""
    table = re.search(r'<table class="problems">(.*?)</table>', page, re.S)
    assert table, "no problems table"
    body = table.group(1).split("<tbody>")[1]
    return [
        [re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", "", td))).strip() for td in tds]
        for tds in (
            re.findall(r"<td>(.*?)</td>", tr, re.S) for tr in re.findall(r"<tr>(.*?)</tr>", body, re.S)
        )
    ]


def test_the_templates_are_the_importers_columns(app, factory, admin):
    cycle = factory.cycle(admin, financial_years=YEARS, budgets={})
    c = signed_in(app, admin)
    page = c.get("/admin/import", params={"cycle_id": cycle["id"]})
    assert f'href="/admin/import/template.csv?cycle_id={cycle["id"]}"' in page.text
    assert f'href="/admin/import/template.xlsx?cycle_id={cycle["id"]}"' in page.text
    header = template_csv(c, cycle["id"])
    assert "cost_2023-24" in header and "saving_2022-23" in header and "cost_2024-25" not in header
    r = c.get("/admin/import/template.xlsx", params={"cycle_id": cycle["id"]})
    assert r.status_code == 200 and "spreadsheetml" in r.headers["content-type"]
    ws = load_workbook(io.BytesIO(r.content)).worksheets[0]
    assert [cell.value for cell in ws[1]] == header
    # the template, filled in, imports (the XLSX one too)
    ws.append(
        [
            {"title": "From the template", "capability": "People", "kind": "investment", "lead": "L"}.get(h)
            for h in header
        ]
    )
    buf = io.BytesIO()
    ws.parent.save(buf)
    r = upload(c, cycle["id"], "filled.xlsx", buf.getvalue())
    assert r.status_code == 200, r.text
    assert proposals_in_page(r.text) == 1
    assert c.get("/admin/import/template.csv").status_code == 400  # no cycle chosen
    assert c.get("/admin/import/template.csv", params={"cycle_id": 999999}).status_code == 404


def proposals_in_page(page: str) -> int:
    return len(re.findall(r'<a href="/proposals/\d+">', page))


def test_three_bad_cells_are_all_shown_and_nothing_is_stored(app, db, factory, admin):
    cycle = factory.cycle(admin, financial_years=YEARS, budgets={})
    c = signed_in(app, admin)
    header = template_csv(c, cycle["id"])
    rows = [
        row(1),
        row(2, **{"cost_2023-24": "12.345"}),
        row(3, kind="grant"),
        row(4),
        row(5, proposer_email="nobody@example.org"),
    ]
    audited = imports_audited(db)
    r = upload(c, cycle["id"], "bad.csv", as_csv(header, rows))
    assert r.status_code == 422
    text = re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", r.text)))
    assert "Nothing was imported" in text and "No proposal from the file was stored" in text
    assert "has 3 problems" in text
    assert cells_of(r.text) == [
        ["3", "cost_2023-24", "12.345", "Amount has more than two decimal places"],
        ["4", "kind", "grant", cells_of(r.text)[1][3]],
        ["6", "proposer_email", "nobody@example.org", "No user has the email nobody@example.org"],
    ]
    assert "efficiency" in cells_of(r.text)[1][3]  # what kinds there are
    assert proposals_in(db, cycle["id"]) == 0 and imports_audited(db) == audited
    assert 'name="file"' in r.text  # the form is there to upload the file again


def test_a_good_file_stores_every_row(app, db, factory, admin):
    cycle = factory.cycle(admin, financial_years=YEARS, budgets={})
    chair = factory.user("chair")  # the import API allows chairs too
    c = signed_in(app, chair)
    header = template_csv(c, cycle["id"])
    r = upload(
        c,
        cycle["id"],
        "good.csv",
        as_csv(header, [row(n) for n in range(1, 4)] + [row(4, reference="EST-9")]),
    )
    assert r.status_code == 200, r.text
    assert proposals_in(db, cycle["id"]) == 4
    assert "4 proposals were created in" in html.unescape(r.text) and 'role="status"' in r.text
    assert proposals_in_page(r.text) == 4 and ">EST-9</a>" in r.text
    with db.unit_of_work(write=False) as s:
        ids = list(s.scalars(select(Proposal.id).where(Proposal.cycle_id == cycle["id"])))
    for pid in ids:
        assert f'href="/proposals/{pid}"' in r.text
    assert imports_audited(db) == 1
    # the result is a page of its own: reloading it shows the same proposals and imports nothing again
    assert "imported=" in str(r.url)
    again = c.get(str(r.url))
    assert proposals_in_page(again.text) == 4 and "4 proposals were created in" in html.unescape(again.text)
    assert proposals_in(db, cycle["id"]) == 4 and imports_audited(db) == 1
    # someone else's import is not shown as one's own
    other = signed_in(app, admin).get(str(r.url))
    assert other.status_code == 200 and proposals_in_page(other.text) == 0


def test_file_problems_are_beside_the_field(app, db, factory, admin):
    cycle = factory.cycle(admin, financial_years=YEARS, budgets={})
    c = signed_in(app, admin)
    page = c.get("/admin/import", params={"cycle_id": cycle["id"]})
    r = c.post("/admin/import", data={"csrf_token": csrf_of(page.text), "cycle_id": str(cycle["id"])})
    assert r.status_code == 422 and 'id="file-error"' in r.text and 'href="#file"' in r.text
    r = upload(c, cycle["id"], "p.xlsx", b"PK\x03\x04 not a workbook")
    assert r.status_code == 415 and "not a readable .xlsx workbook" in r.text
    app.state.settings.max_upload_bytes = 2048
    r = upload(
        c, cycle["id"], "big.csv", as_csv(template_csv(c, cycle["id"]), [row(n) for n in range(1, 60)])
    )
    assert r.status_code == 413 and "larger than 2048 bytes" in r.text
    assert proposals_in(db, cycle["id"]) == 0
    # without a token the upload is refused
    r = c.post("/admin/import", data={"cycle_id": str(cycle["id"])}, files={"file": ("a.csv", b"title\n")})
    assert r.status_code == 403


def test_who_may_import(app, factory, admin):
    cycle = factory.cycle(admin, financial_years=YEARS, budgets={})
    for role in ("scorer", "finance", "proposer"):
        c = signed_in(app, factory.user(role))
        assert c.get("/admin/import").status_code == 403
        assert c.get("/admin/import/template.csv", params={"cycle_id": cycle["id"]}).status_code == 403
        page = c.get("/")
        r = c.post(
            "/admin/import",
            data={"csrf_token": csrf_of(page.text), "cycle_id": str(cycle["id"])},
            files={"file": ("a.csv", as_csv(SOME_COLUMNS, [row(1)]))},
        )
        assert r.status_code == 403
    chooser = signed_in(app, admin).get("/admin/import")
    assert chooser.status_code == 200 and f'<option value="{cycle["id"]}">' in chooser.text


def test_the_xlsx_template_is_one_header_row():
    """The XLSX template has one bold, frozen header row and nothing else."""
    from app.web.import_pages import template_xlsx

    wb = load_workbook(io.BytesIO(template_xlsx(["title", "lead"])))
    ws = wb.worksheets[0]
    assert ws.max_row == 1 and ws.freeze_panes == "A2" and ws["A1"].font.bold


def test_ids_are_unique_on_the_import_pages(app, factory, admin):
    from collections import Counter

    cycle = factory.cycle(admin, financial_years=YEARS, budgets={})
    c = signed_in(app, admin)
    bad = upload(c, cycle["id"], "bad.csv", as_csv(SOME_COLUMNS, [row(1, kind="grant")]))
    good = upload(c, cycle["id"], "good.csv", as_csv(SOME_COLUMNS, [row(1)]))
    for r in (c.get("/admin/import"), c.get("/admin/import", params={"cycle_id": cycle["id"]}), bad, good):
        ids = Counter(re.findall(r'\sid="([^"]+)"', r.text))
        assert r.status_code in (200, 422) and not [i for i, n in ids.items() if n > 1], r.url
