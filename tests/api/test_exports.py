"""The CSV and XLSX writers give the same files as the straightforward writers they replaced (kept below as
the reference, as they were), on awkward values as well as on the demo data (test_golden_outputs.py), and
the workbook reads back with its formats, frozen header row and header block."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from app.rankings import exports
from app.rankings.exports import COLUMNS, MONEY, PRINCIPLE_KEYS, TEXT, cell, safe_text, xlsx_cell
from tests.api.golden import normalise

WEIGHTING = {"name": "Equal weights", "method": "direct", "weights": {str(p): 1 / 12 for p in range(1, 13)}}
HEADER = exports.header_block(
    "SR30 SE&RR", WEIGHTING, "mean", "a@example.org", datetime(2026, 1, 2, tzinfo=UTC)
)


# --- the writers as they were before the exports were made lean: the reference ---


def reference_rows(items, extra=None):
    out = []
    for it in items:
        row = []
        for key, _ in COLUMNS:
            value = cell(it, key)
            if key in TEXT and value is not None:
                value = safe_text(str(value))
            elif key in MONEY:
                value = Decimal(value)
            row.append(value)
        if extra:
            row.extend(safe_text(str(it.get(k, ""))) for k in extra)
        out.append(row)
    return out


def reference_csv(items, extra=None) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow([title for _, title in COLUMNS] + list((extra or {}).values()))
    for row in reference_rows(items, extra):
        w.writerow(["" if v is None else (f"{v:f}" if isinstance(v, Decimal) else v) for v in row])
    return buf.getvalue().encode("utf-8-sig")


def reference_xlsx(items, header, extra=None) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    ws.title = "Ranking"
    for label, value in header:
        ws.append([xlsx_cell(label), xlsx_cell(safe_text(value) if isinstance(value, str) else value)])
        ws.cell(row=ws.max_row, column=1).font = Font(bold=True)
        if isinstance(value, exports.Share):
            ws.cell(row=ws.max_row, column=2).number_format = "0.0%"
    ws.append([])
    ws.append([xlsx_cell(title) for _, title in COLUMNS] + [xlsx_cell(t) for t in (extra or {}).values()])
    header_row = ws.max_row
    for c in ws[header_row]:
        c.font = Font(bold=True)
    for row in reference_rows(items, extra):
        ws.append([xlsx_cell(v) for v in row])
        r = ws.max_row
        for col, (key, _) in enumerate(COLUMNS, start=1):
            if key in MONEY:
                ws.cell(row=r, column=col).number_format = '"£"#,##0.00'
            elif key in ("weighted_score", "score_per_million", "p_funded") or key in PRINCIPLE_KEYS:
                ws.cell(row=r, column=col).number_format = "0.00"
    ws.freeze_panes = ws.cell(row=header_row + 1, column=1)
    last = ws.cell(row=header_row, column=ws.max_column).column_letter
    ws.auto_filter.ref = f"A{header_row}:{last}{header_row + len(items)}"
    ws.column_dimensions["C"].width = 60
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


# --- awkward items ---

AWKWARD_TEXT = [
    "Plain title",
    " leading space",
    "trailing space ",
    "   ",
    "",
    "a & b < c > d \"quoted\" 'single'",
    "]]> and <![CDATA[",
    "line\nbreak\r\nand\ttab",
    "£ é 😀 中文 \u00a0nbsp\u00a0",
    "control\x01char\x1f and \ufffe",
    "=1+1",
    "+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(A1:A2)",
    "x" * 33_000,
]
AWKWARD_NUMBERS = [0, 0.0, -0.0, 1, -1, 0.1 + 0.2, 78.33333333333334, 1e-300, 1e20, 12345678901234567, 2.5e-7]


def item(i: int, **overrides) -> dict:
    score = AWKWARD_NUMBERS[i % len(AWKWARD_NUMBERS)]
    scored = i % 7 != 6
    it = {
        "rank": i + 1 if scored else None,
        "proposal_id": i + 1,
        "reference": f"SR30-{i + 1:04d}",
        "title": AWKWARD_TEXT[i % len(AWKWARD_TEXT)],
        "capability": AWKWARD_TEXT[(i + 3) % len(AWKWARD_TEXT)],
        "kind": ("investment", "efficiency", "reinvestment")[i % 3],
        "weighted_score": score if scored else None,
        "rank_interval": {"low": float(i + 1), "high": float(i + 4)} if scored and i % 5 else None,
        "p_funded": (i % 10) / 10 if scored else None,
        "below_quorum": not scored,
        "scorers": 3 + i % 4,
        "quorum": 3,
        "coverage_text": f"{3 + i % 4} of 7 submitted",
        "principle_scores": {str(p): (None if (p + i) % 6 == 0 else (p * i) % 6 / 1.5) for p in range(1, 13)},
        "max_spread": float(i % 4) if scored else None,
        "coverage": 1.0 if scored else 0.25,
        "complete": scored and i % 2 == 0,
        "total_cost": f"{i * 1234567 % 9_999_999}.{i % 100:02d}",
        "total_saving": "0.00",
        "net_cost": f"-{i * 7654321 % 999_999}.05",
        "score_per_million": score * 3 if scored else None,
        "funded_by_walk": scored and i % 3 == 0,
        "skipped_by_walk": scored and i % 3 == 1,
    }
    it.update(overrides)
    return it


def items(n: int) -> list[dict]:
    return [item(i) for i in range(n)]


CASES = {
    "none": [],
    "one": items(1),
    "two": items(2),
    "awkward": items(60),
    "not finite": [item(0), item(1, weighted_score=float("nan")), item(2, p_funded=float("inf"))],
    "error-code text": [item(0), item(1, title="#N/A"), item(2, capability="#DIV/0!")],
    "formula in an untyped column": [item(0), item(1, rank="=1"), item(2)],
    "integers where floats are usual": [item(0), item(1, weighted_score=3, p_funded=1, coverage=1)],
}


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("extra", [None, {"selected": "Selected"}])
def test_files_are_the_reference_writers_files(case, extra):
    rows = CASES[case]
    if extra:
        rows = [{**it, "selected": ("yes", "no", "", "=HYPERLINK()")[i % 4]} for i, it in enumerate(rows)]
    assert exports.to_csv(rows, extra) == reference_csv(rows, extra)
    got, want = exports.to_xlsx(rows, HEADER, extra), reference_xlsx(rows, HEADER, extra)
    assert normalise("x.xlsx", got) == normalise("x.xlsx", want)


def test_the_workbook_reads_back_with_formats_frozen_header_and_header_block():
    rows = items(40)
    ws = load_workbook(io.BytesIO(exports.to_xlsx(rows, HEADER))).active
    header_row = len(HEADER) + 2
    assert ws.title == "Ranking" and ws.freeze_panes == f"A{header_row + 1}"
    assert ws.column_dimensions["C"].width == 60
    assert [(c.value, c.font.b) for c in ws["A"][: len(HEADER)]] == [(label, True) for label, _ in HEADER]
    assert [c.value for c in ws[header_row]] == [title for _, title in COLUMNS]
    assert all(c.font.b for c in ws[header_row])
    assert ws.max_row == header_row + len(rows)
    # an autofilter on the whole table; weights as percentages; money in pounds
    assert (
        ws.auto_filter.ref
        == f"A{header_row}:{ws.cell(row=header_row, column=len(COLUMNS)).column_letter}{ws.max_row}"
    )
    weights = [
        r for r in range(1, len(HEADER) + 1) if str(ws.cell(row=r, column=1).value).startswith("Weight P")
    ]
    assert len(weights) == 12 and {ws.cell(row=r, column=2).number_format for r in weights} == {"0.0%"}
    assert ws.cell(row=weights[0], column=2).value == pytest.approx(1 / 12)
    assert exports.NUMBER_FORMATS["net_cost"] == '"£"#,##0.00'
    for col, (key, _) in enumerate(COLUMNS, start=1):
        want = exports.NUMBER_FORMATS.get(key, "General")
        formats = {ws.cell(row=r, column=col).number_format for r in range(header_row + 1, ws.max_row + 1)}
        assert formats == {want}, key
    last = [c.value for c in ws[ws.max_row]]
    assert last[1] == rows[-1]["reference"] and last[COLUMNS.index(("net_cost", "Net cost (£)"))] == float(
        Decimal(rows[-1]["net_cost"])
    )
