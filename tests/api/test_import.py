import csv
import io

from openpyxl import Workbook

API = "/api/v1"

HEADER = [
    "reference",
    "title",
    "capability",
    "kind",
    "lead",
    "summary",
    "fte_change",
    "cost_2022-23",
    "saving_2022-23",
    "cost_2023-24",
    "saving_2023-24",
    "self_assessment_7",
]


def to_csv(rows):
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(HEADER)
    w.writerows(rows)
    return buf.getvalue().encode()


GOOD = [
    [
        "",
        "Shared device lab",
        "Digital Exploitation",
        "efficiency",
        "DCI A",
        "Merge labs",
        "-3.5",
        "250000.00",
        "0",
        "50000",
        "400000.10",
        "Automates triage",
    ],
    ["EST-7", "Regional hub", "Estates", "Efficiency", "Ms B", "", "", "1,000.00", "", "", "", ""],
]


def count(client, admin, cycle):
    return client.get(f"{API}/proposals", params={"cycle_id": cycle["id"]}, headers=admin.headers).json()[
        "total"
    ]


def test_csv_import_lands_every_row(client, factory, admin):
    cycle = factory.cycle(admin, financial_years=["2022-23", "2023-24"], budgets={})
    r = client.post(
        f"{API}/cycles/{cycle['id']}/proposals/import",
        headers=admin.headers,
        files={"file": ("proposals.csv", to_csv(GOOD), "text/csv")},
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["imported"] == 2
    assert [(p["row"], p["reference"]) for p in body["proposals"]] == [(2, "SR01-001"), (3, "EST-7")]
    p = client.get(f"{API}/proposals/{body['proposals'][0]['id']}", headers=admin.headers).json()
    assert p["financials"] == [
        {"year": "2022-23", "cost": "250000.00", "saving": "0.00"},
        {"year": "2023-24", "cost": "50000.00", "saving": "400000.10"},
    ]
    assert p["fte_change"] == "-3.50" and p["self_assessment"] == {"7": "Automates triage"}
    p2 = client.get(f"{API}/proposals/{body['proposals'][1]['id']}", headers=admin.headers).json()
    assert p2["kind"] == "efficiency" and p2["total_cost"] == "1000.00"


def test_one_bad_row_changes_nothing_and_is_reported(client, factory, admin):
    cycle = factory.cycle(admin, financial_years=["2022-23", "2023-24"], budgets={})
    factory.proposal(admin, cycle, reference="TAKEN-1")
    before = count(client, admin, cycle)
    bad = [
        GOOD[0],
        ["TAKEN-1", "Regional hub", "Estates", "efficiency", "Ms B", "", "", "12.345", "", "", "", ""],
        ["", "", "Estates", "grant", "Ms C", "", "", "", "", "", "", ""],
        GOOD[1],
    ]
    r = client.post(
        f"{API}/cycles/{cycle['id']}/proposals/import",
        headers=admin.headers,
        files={"file": ("proposals.csv", to_csv(bad), "text/csv")},
    )
    assert r.status_code == 422
    problems = {(e["row"], e["column"]) for e in r.json()["errors"]}
    assert problems == {(3, "cost_2022-23"), (3, "reference"), (4, "title"), (4, "kind")}
    msgs = {(e["row"], e["column"]): e["msg"] for e in r.json()["errors"]}
    assert msgs[(3, "cost_2022-23")] == "amount has more than two decimal places"
    assert msgs[(3, "reference")] == "TAKEN-1 already exists in this cycle"
    assert msgs[(4, "title")] == "required"
    assert msgs[(4, "kind")] == "must be one of investment, efficiency or reinvestment"
    assert "nothing was changed" in r.json()["detail"]
    assert count(client, admin, cycle) == before


def test_unknown_and_missing_columns(client, factory, admin):
    cycle = factory.cycle(admin, financial_years=["2022-23"], budgets={})
    content = b"title,capability,kind,cost_2030-31\nA title,Estates,efficiency,5\n"
    r = client.post(
        f"{API}/cycles/{cycle['id']}/proposals/import",
        headers=admin.headers,
        files={"file": ("p.csv", content, "text/csv")},
    )
    assert r.status_code == 422
    assert {(e["row"], e["column"], e["msg"].split(";")[0]) for e in r.json()["errors"]} == {
        (1, "cost_2030-31", "unknown column"),
        (1, "lead", "required column is missing"),
    }


def test_xlsx_import(client, factory, admin):
    cycle = factory.cycle(admin, financial_years=["2022-23", "2023-24"], budgets={})
    wb = Workbook()
    ws = wb.active
    ws.append(HEADER)
    ws.append(
        ["X-1", "Spreadsheet proposal", "People", "investment", "Ms D", "s", 2, 1250000.5, 0, 10, 0, ""]
    )
    buf = io.BytesIO()
    wb.save(buf)
    r = client.post(
        f"{API}/cycles/{cycle['id']}/proposals/import",
        headers=admin.headers,
        files={"file": ("p.xlsx", buf.getvalue(), "application/octet-stream")},
    )
    assert r.status_code == 201, r.text
    p = client.get(f"{API}/proposals/{r.json()['proposals'][0]['id']}", headers=admin.headers).json()
    assert p["financials"][0]["cost"] == "1250000.50" and p["fte_change"] == "2.00"


def test_example_file_in_docs_imports(client, factory, admin):
    from pathlib import Path

    cycle = factory.cycle(admin)
    content = (Path(__file__).parents[2] / "docs" / "examples" / "proposals-import.csv").read_bytes()
    r = client.post(
        f"{API}/cycles/{cycle['id']}/proposals/import",
        headers=admin.headers,
        files={"file": ("proposals-import.csv", content, "text/csv")},
    )
    assert r.status_code == 201, r.text
    assert r.json()["imported"] == 3


def test_only_chairs_and_admins_import(client, factory, admin):
    cycle = factory.cycle(admin)
    proposer = factory.user("proposer")
    r = client.post(
        f"{API}/cycles/{cycle['id']}/proposals/import",
        headers=proposer.headers,
        files={"file": ("p.csv", to_csv(GOOD), "text/csv")},
    )
    assert r.status_code == 403


def test_cell_problems_are_told_in_the_file_authors_words(client, factory, admin):
    """Every message names what the cell must hold; none is a validator's own text."""
    cycle = factory.cycle(admin, financial_years=["2022-23", "2023-24"], budgets={})
    bad = [["bad ref!", "T" * 300, "Estates", "grant", "Ms C", "", "lots", "", "", "", "", ""]]
    r = client.post(
        f"{API}/cycles/{cycle['id']}/proposals/import",
        headers=admin.headers,
        files={"file": ("proposals.csv", to_csv(bad), "text/csv")},
    )
    assert r.status_code == 422
    msgs = {e["column"]: e["msg"] for e in r.json()["errors"]}
    assert msgs["kind"] == "must be one of investment, efficiency or reinvestment"
    assert msgs["reference"].startswith("must start with a letter or digit")
    assert set(msgs) >= {"kind", "reference", "fte_change"}
    for msg in msgs.values():
        assert "should" not in msg.lower() and "Value error" not in msg, msg
