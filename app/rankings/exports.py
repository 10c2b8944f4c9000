"""CSV and XLSX files of a ranking. Text cells that a spreadsheet would read as a formula are escaped, and
characters an XLSX file cannot hold (control characters stored before input refused them) are replaced."""

from __future__ import annotations

import csv
import io
import math
import re
import zipfile
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from xml.sax.saxutils import escape as xml_escape

from openpyxl.utils import get_column_letter

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

COLUMN_INDEX = {key: index for index, (key, _) in enumerate(COLUMNS)}


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


class Share(float):
    """A figure of the header block shown as a percentage (a weight): 0.0833 reads 8.3%."""


MONEY_FORMAT = '"£"#,##0.00'
PERCENT_FORMAT = "0.0%"


def xlsx_cell(value: Any) -> Any:
    """A value an XLSX cell can hold: Decimal as a number, text without XML-illegal characters."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, str):
        return XML_ILLEGAL.sub("\ufffd", value)
    return value


def _columns(items: list[dict[str, Any]], extra: dict[str, str] | None) -> list[list[Any]]:
    """The table column by column, one pass over the items per column: text escaped, money as Decimal,
    None where an item has no such figure."""
    out: list[list[Any]] = []
    for key, _ in COLUMNS:
        if key in PRINCIPLE_KEYS:
            p = key[1:]
            out.append([it["principle_scores"][p] for it in items])
        elif key in INTERVAL_KEYS:
            end = INTERVAL_KEYS[key]
            out.append([None if (iv := it.get("rank_interval")) is None else iv[end] for it in items])
        elif key in TEXT:
            out.append([None if (v := it.get(key)) is None else safe_text(str(v)) for it in items])
        elif key in MONEY:
            out.append([Decimal(it.get(key)) for it in items])
        else:
            out.append([it.get(key) for it in items])
    for k in extra or {}:
        out.append([safe_text(str(it.get(k, ""))) for it in items])
    return out


def to_csv(items: list[dict[str, Any]], extra: dict[str, str] | None = None) -> bytes:
    """UTF-8 with a byte-order mark, CRLF; money as plain decimals, nothing where there is no figure."""
    columns = _columns(items, extra)
    for key, _ in COLUMNS:
        if key in MONEY:
            index = COLUMN_INDEX[key]
            columns[index] = [f"{v:f}" for v in columns[index]]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow([title for _, title in COLUMNS] + list((extra or {}).values()))
    if items:
        w.writerows(zip(*columns, strict=True))
    return buf.getvalue().encode("utf-8-sig")


def to_xlsx(
    items: list[dict[str, Any]], header: list[tuple[str, Any]], extra: dict[str, str] | None = None
) -> bytes:
    """A workbook: a header block (what, weights as percentages, who and when), then the table with a frozen
    header row and an autofilter on it; money in pounds (£#,##0.00).

    Each formatted column's number format is one style, made once. openpyxl builds the workbook: the
    header block, the header row and the table's first row (which fixes the styles' numbering). The
    other rows, the bulk of the file, go into its worksheet as openpyxl would write them (see
    :func:`sheet_rows`), one string per cell rather than one XML element. A value that rendering does
    not cover (a formula-like or error-code string; a type other than None, bool, int, float and str)
    sends the whole table through openpyxl instead."""
    from openpyxl import Workbook
    from openpyxl.cell import Cell
    from openpyxl.styles import Font

    columns = _columns(items, extra)
    for index, values in enumerate(columns):
        columns[index] = [xlsx_cell(v) for v in values]
    table = list(zip(*columns, strict=True)) if items else []

    wb = Workbook()
    ws = wb.active
    ws.title = "Ranking"
    bold = Cell(ws)
    bold.font = Font(bold=True)
    percent = Cell(ws)
    percent.number_format = PERCENT_FORMAT
    for label, value in header:
        ws.append(
            [
                Cell(ws, value=xlsx_cell(label), style_array=bold._style),
                Cell(ws, value=float(value), style_array=percent._style)
                if isinstance(value, Share)
                else xlsx_cell(safe_text(value) if isinstance(value, str) else value),
            ]
        )
    ws.append([])
    titles = [title for _, title in COLUMNS] + list((extra or {}).values())
    ws.append([Cell(ws, value=xlsx_cell(t), style_array=bold._style) for t in titles])
    header_row = len(header) + 2
    styles = {}
    for index, (key, _) in enumerate(COLUMNS):
        number_format = NUMBER_FORMATS.get(key)
        if number_format is not None and table:  # an empty table's workbook lists no format it does not use
            template = Cell(ws)
            template.number_format = number_format
            styles[index] = template._style

    def styled(row: tuple[Any, ...]) -> list[Any]:
        return [Cell(ws, value=v, style_array=styles[i]) if i in styles else v for i, v in enumerate(row)]

    first = styled(table[0]) if table else []
    rest = table[1:]
    fast = all(renderable(v) for row in rest for v in row)
    if first:
        ws.append(first)
    if not fast:
        for row in rest:
            ws.append(styled(row))
    ws.freeze_panes = ws.cell(row=header_row + 1, column=1)
    ws.auto_filter.ref = f"A{header_row}:{get_column_letter(len(titles))}{header_row + len(table)}"
    ws.column_dimensions["C"].width = 60
    buf = io.BytesIO()
    wb.save(buf)
    if not rest or not fast:
        return buf.getvalue()
    style_attrs = [f' s="{first[i].style_id}"' if i in styles else "" for i in range(len(first))]
    rows_xml = sheet_rows(rest, header_row + 2, style_attrs)
    return _with_rows(buf.getvalue(), ws.path.lstrip("/"), rows_xml, header_row + len(table))


NUMBER_FORMATS = {
    **{key: MONEY_FORMAT for key in MONEY},
    **{key: "0.00" for key in ("weighted_score", *sorted(PRINCIPLE_KEYS), "score_per_million", "p_funded")},
}
# openpyxl types a string of more than one character starting with '=' as a formula, and these as errors
ERROR_CODES = frozenset(("#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A"))
PLAIN_TYPES = (type(None), bool, int, float)
DIMENSION = re.compile(rb'(<dimension ref="A1:[A-Z]+)\d+(" />)')


def renderable(value: Any) -> bool:
    """Whether :func:`sheet_rows` writes this value as openpyxl would."""
    t = type(value)
    if t is str:
        return not (len(value) > 1 and value[0] == "=") and value not in ERROR_CODES
    return t in PLAIN_TYPES


def sheet_rows(rows: list[tuple[Any, ...]], first_row: int, style_attrs: list[str]) -> bytes:
    """Worksheet rows as openpyxl 3.1 (with its ElementTree writer) writes them, for renderable values.

    A styled cell is written even without a value; text is an inline string (at most 32,767 characters,
    &, < and > escaped, xml:space="preserve" when it has surrounding spaces); numbers as '%.16g' (no
    text for NaN and infinities); booleans as 1 and 0. tests/api/test_exports.py holds it to openpyxl's
    own output on awkward values."""
    letters = [get_column_letter(i) for i in range(1, len(style_attrs) + 1)]
    out: list[str] = []
    add = out.append
    for r, row in enumerate(rows, first_row):
        add(f'<row r="{r}">')
        for letter, s, v in zip(letters, style_attrs, row, strict=True):
            t = type(v)
            if v is None:
                if s:
                    add(f'<c r="{letter}{r}"{s} t="n" />')
            elif t is str:
                v = v[:32767]
                if not v:
                    add(f'<c r="{letter}{r}"{s} t="inlineStr" />')
                    continue
                stripped = v.strip()
                space = ' xml:space="preserve"' if stripped and stripped != v else ""
                add(f'<c r="{letter}{r}"{s} t="inlineStr"><is><t{space}>{xml_escape(v)}</t></is></c>')
            elif t is bool:
                add(f'<c r="{letter}{r}"{s} t="b"><v>{1 if v else 0}</v></c>')
            elif math.isfinite(v):
                add(f'<c r="{letter}{r}"{s} t="n"><v>{v:.16g}</v></c>')
            else:
                add(f'<c r="{letter}{r}"{s} t="n"><v /></c>')
        add("</row>")
    return "".join(out).encode("utf-8")


def _with_rows(xlsx: bytes, sheet: str, rows_xml: bytes, last_row: int) -> bytes:
    """The workbook with ``rows_xml`` added after the worksheet's rows and its dimension to match."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(xlsx)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == sheet:
                data, found = DIMENSION.subn(rb"\g<1>%d\g<2>" % last_row, data, count=1)
                head, end, tail = data.rpartition(b"</sheetData>")
                if found != 1 or not end:
                    raise RuntimeError(f"unexpected worksheet layout in {sheet}")
                data = head + rows_xml + end + tail
            dst.writestr(info, data)
    return out.getvalue()


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
        *[(f"Weight P{p}", Share(weighting["weights"][str(p)])) for p in range(1, 13)],
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
