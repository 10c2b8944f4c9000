"""CSV and XLSX files of a ranking. Text cells that a spreadsheet would read as a formula are escaped, and
characters an XLSX file cannot hold (control characters stored before input refused them) are replaced."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# Characters XML 1.0 (and so an XLSX cell) cannot hold: C0 controls but tab, LF and CR; lone surrogates;
# U+FFFE and U+FFFF. Input refuses them, but rows stored earlier (or edited in the database) may hold them.
XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")

COLUMNS = [
    ("rank", "Rank"),
    ("reference", "Reference"),
    ("title", "Title"),
    ("capability", "Capability"),
    ("kind", "Kind"),
    ("weighted_score", "Weighted score"),
    *[(f"p{k}", f"P{k}") for k in range(1, 13)],
    ("scorers", "Scorers"),
    ("max_spread", "Max spread"),
    ("coverage", "Coverage"),
    ("complete", "Complete"),
    ("total_cost", "Total cost (£)"),
    ("total_saving", "Total saving (£)"),
    ("net_cost", "Net cost (£)"),
    ("score_per_million", "Score per £1m net"),
    # quorum, the budget walk and rank intervals (added at the end: earlier columns keep their places)
    ("coverage_text", "Scorecards"),
    ("below_quorum", "Below quorum"),
    ("quorum", "Quorum"),
    ("rank_low", "Rank low (5th pct)"),
    ("rank_high", "Rank high (95th pct)"),
    ("p_funded", "P(funded)"),
    ("funded_by_walk", "Funded by walk"),
    ("skipped_by_walk", "Skipped by walk"),
]
MONEY = {"total_cost", "total_saving", "net_cost"}
TEXT = {"reference", "title", "capability", "kind", "coverage_text"}
PRINCIPLE_KEYS = {f"p{k}" for k in range(1, 13)}
INTERVAL_KEYS = {"rank_low": "low", "rank_high": "high"}


def cell(it: dict[str, Any], key: str) -> Any:
    """One item's value for a column (None when the item has no such figure, e.g. an older submission)."""
    if key in PRINCIPLE_KEYS:
        return it["principle_scores"][key[1:]]
    if key in INTERVAL_KEYS:
        interval = it.get("rank_interval")
        return None if interval is None else interval[INTERVAL_KEYS[key]]
    return it.get(key)


def safe_text(value: str) -> str:
    """Prefix a quote so that '=1+1', '@SUM(…)', '-2+3' and the like stay text in a spreadsheet."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def xlsx_cell(value: Any) -> Any:
    """A value an XLSX cell can hold: Decimal as a number, text without XML-illegal characters."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, str):
        return XML_ILLEGAL.sub("\ufffd", value)
    return value


def rows(items: list[dict[str, Any]], extra: dict[str, str] | None = None) -> list[list[Any]]:
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


def to_csv(items: list[dict[str, Any]], extra: dict[str, str] | None = None) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow([title for _, title in COLUMNS] + list((extra or {}).values()))
    for row in rows(items, extra):
        w.writerow(["" if v is None else (f"{v:f}" if isinstance(v, Decimal) else v) for v in row])
    return buf.getvalue().encode("utf-8-sig")


def to_xlsx(
    items: list[dict[str, Any]], header: list[tuple[str, Any]], extra: dict[str, str] | None = None
) -> bytes:
    """A workbook: a header block (what, weights, who and when), then the table with a frozen header row."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    ws.title = "Ranking"
    for label, value in header:
        ws.append([xlsx_cell(label), xlsx_cell(safe_text(value) if isinstance(value, str) else value)])
        ws.cell(row=ws.max_row, column=1).font = Font(bold=True)
    ws.append([])
    ws.append([xlsx_cell(title) for _, title in COLUMNS] + [xlsx_cell(t) for t in (extra or {}).values()])
    header_row = ws.max_row
    for cell in ws[header_row]:
        cell.font = Font(bold=True)
    for row in rows(items, extra):
        ws.append([xlsx_cell(v) for v in row])
        r = ws.max_row
        for col, (key, _) in enumerate(COLUMNS, start=1):
            if key in MONEY:
                ws.cell(row=r, column=col).number_format = "#,##0.00"
            elif key in ("weighted_score", "score_per_million", "p_funded") or key in PRINCIPLE_KEYS:
                ws.cell(row=r, column=col).number_format = "0.00"
    ws.freeze_panes = ws.cell(row=header_row + 1, column=1)
    ws.column_dimensions["C"].width = 60
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def header_block(
    cycle_name: str,
    weighting: dict[str, Any],
    aggregation: str,
    generated_by: str,
    generated_at: datetime,
    title: str = "Ranking",
) -> list[tuple[str, Any]]:
    block: list[tuple[str, Any]] = [
        (title, cycle_name),
        ("Weighting", f"{weighting['name']} ({weighting['method']})"),
        *[(f"Weight P{p}", float(weighting["weights"][str(p)])) for p in range(1, 13)],
        ("Aggregation", aggregation),
        ("Generated at (UTC)", generated_at.strftime("%Y-%m-%d %H:%M:%S")),
        ("Generated by", generated_by),
    ]
    return block


def ranking_file(fmt: str, doc: dict[str, Any], items: list[dict[str, Any]], generated_by: str) -> bytes:
    """A ranking as CSV or XLSX (with its header block)."""
    if fmt == "csv":
        return to_csv(items)
    header = header_block(
        doc["cycle"]["name"], doc["weighting"], doc["aggregation"], generated_by, datetime.now(UTC)
    )
    return to_xlsx(items, header)
