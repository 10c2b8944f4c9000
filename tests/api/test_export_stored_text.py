"""XLSX files are built from what is stored, whatever it holds: a control character saved before input
refused it (or by a direct database edit) must not make every export of the cycle fail."""

from __future__ import annotations

import io

from openpyxl import load_workbook
from sqlalchemy import text

API = "/api/v1"


def _plant(db, table: str, column: str, row_id: int, value: str) -> None:
    with db.engine.begin() as conn:
        conn.execute(text(f"UPDATE {table} SET {column} = :v WHERE id = :id"), {"v": value, "id": row_id})


def _cells(content: bytes) -> list:
    return [v for row in load_workbook(io.BytesIO(content)).active.iter_rows(values_only=True) for v in row]


def test_ranking_and_submission_xlsx_survive_stored_control_characters(client, db, factory, admin):
    cycle = factory.scored_cycle(admin)
    cid, pid = cycle["id"], cycle["proposal_ids"][0]

    _plant(db, "proposals", "title", pid, "Planted\x01title\x1f")
    _plant(db, "proposals", "capability", pid, "=1+1\x02")
    _plant(db, "cycles", "name", cid, "Cycle\x0bname")
    r = client.get(f"{API}/cycles/{cid}/ranking", params={"format": "xlsx"}, headers=admin.headers)
    assert r.status_code == 200, r.text
    cells = _cells(r.content)
    # replaced by U+FFFD, and formula escaping still applies
    assert "Planted\ufffdtitle\ufffd" in cells and "'=1+1\ufffd" in cells and "Cycle\ufffdname" in cells
    r = client.get(f"{API}/cycles/{cid}/ranking", params={"format": "csv"}, headers=admin.headers)
    assert r.status_code == 200 and "Planted\x01title" in r.content.decode("utf-8-sig")

    assert client.post(
        f"{API}/cycles/{cid}/transition", json={"to": "moderation"}, headers=admin.headers
    ).is_success
    r = client.post(f"{API}/cycles/{cid}/submissions", json={"title": "To finance"}, headers=admin.headers)
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    _plant(db, "submissions", "title", sid, "To\x01finance")
    r = client.get(f"{API}/submissions/{sid}.xlsx", headers=admin.headers)
    assert r.status_code == 200, r.text
    cells = _cells(r.content)
    assert f"Submission {sid}: To\ufffdfinance" in cells and "Planted\ufffdtitle\ufffd" in cells
