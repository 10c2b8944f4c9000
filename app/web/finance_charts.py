"""The analysis pages' charts as inline SVG drawn on the server: a slope chart of two rankings and a
rank-range chart of sensitivity. Colours and strokes are classes in app.css (the pages' CSP allows no
inline style); each chart has a <title> and a <desc>, and the page beside it a table with the same figures.
"""

from __future__ import annotations

from html import escape
from typing import Any

SLOPE_MAX = 80  # proposals drawn on the slope chart; on a longer list, those in the top 40 under either
SLOPE_TOP = 40
RANGE_ROWS = 60  # proposals drawn on the rank-range chart (the first in the ranking); the table has all
RANGE_COLUMNS = 60  # ranks drawn one a column; later ranks share the last column
SHADES = 10


def _open(cls: str, width: float, height: float, ident: str, title: str, desc: str) -> list[str]:
    return [
        f'<svg class="{cls}" role="img" viewBox="0 0 {width:.0f} {height:.0f}" '
        f'aria-labelledby="{ident}-title {ident}-desc">',
        f'<title id="{ident}-title">{escape(title)}</title>',
        f'<desc id="{ident}-desc">{escape(desc)}</desc>',
    ]


def slope_chart(
    items: list[dict[str, Any]],
    label_a: str,
    label_b: str,
    funded_a: set[int] | None = None,
    funded_b: set[int] | None = None,
) -> str:
    """Each proposal's rank under A (left) joined to its rank under B (right).

    ``items`` are the compare service's items (``proposal_id``, ``reference``, ``rank_a``, ``rank_b``,
    ``shift``). A line rising to the right is a proposal that ranks higher under B; proposals entering or
    leaving the funded set (when ``funded_a``/``funded_b`` are given) are drawn bold and named so."""
    shown = items
    if len(items) > SLOPE_MAX:
        shown = [it for it in items if min(it["rank_a"], it["rank_b"]) <= SLOPE_TOP]
    left = sorted(shown, key=lambda it: (it["rank_a"], it["reference"]))
    right = sorted(shown, key=lambda it: (it["rank_b"], it["reference"]))
    y_a = {it["proposal_id"]: i for i, it in enumerate(left)}
    y_b = {it["proposal_id"]: i for i, it in enumerate(right)}
    row, label_w, gap, top = 18, 150, 260, 40
    width = 2 * label_w + gap
    height = top + row * len(shown) + 20
    x1, x2 = label_w, label_w + gap
    risers = sum(it["shift"] > 0 for it in shown)
    fallers = sum(it["shift"] < 0 for it in shown)
    desc = (
        f"{len(shown)} proposals: rank under {label_a} on the left, under {label_b} on the right. "
        f"{risers} rank higher under {label_b}, {fallers} lower, {len(shown) - risers - fallers} the same."
        + (
            f" Of {len(items)} ranked, those in the top {SLOPE_TOP} under either are drawn."
            if shown is not items
            else ""
        )
        + " The table below gives every figure."
    )
    parts = _open("chart slope", width, height, "slope", f"Rank under {label_a} and under {label_b}", desc)
    parts.append(
        f'<text x="{x1}" y="16" class="axis head">{escape(label_a)}</text>'
        f'<text x="{x2}" y="16" class="axis head end">{escape(label_b)}</text>'
    )
    changes = funded_a is not None and funded_b is not None
    for it in shown:
        pid = it["proposal_id"]
        ya = top + y_a[pid] * row
        yb = top + y_b[pid] * row
        direction = "up" if it["shift"] > 0 else "down" if it["shift"] < 0 else "same"
        note = ""
        cls = f"slope-line {direction}"
        if changes and (pid in funded_a) != (pid in funded_b):
            cls += " changes"
            note = f", {'enters' if pid in funded_b else 'leaves'} the funded set"
        ref = escape(it["reference"])
        moved = (
            f"up {it['shift']}"
            if it["shift"] > 0
            else f"down {-it['shift']}"
            if it["shift"] < 0
            else "no change"
        )
        parts.append(
            f"<g><title>{ref}: rank {it['rank_a']} → {it['rank_b']} ({moved}){note}</title>"
            f'<text x="{x1 - 8}" y="{ya + 4}" class="label">{it["rank_a"]}. {ref}</text>'
            f'<line x1="{x1}" y1="{ya}" x2="{x2}" y2="{yb}" class="{cls}"/>'
            f'<circle cx="{x1}" cy="{ya}" r="2.5" class="slope-dot"/>'
            f'<circle cx="{x2}" cy="{yb}" r="2.5" class="slope-dot"/>'
            f'<text x="{x2 + 8}" y="{yb + 4}" class="label start">{it["rank_b"]}. {ref}</text></g>'
        )
    parts.append("</svg>")
    return "".join(parts)


def shade(share: float) -> str:
    """The class of a rank-range cell: ``rr-1`` (rare) to ``rr-10`` (every draw); ``rr-0`` for none."""
    if share <= 0:
        return "rr-0"
    return f"rr-{max(1, min(SHADES, round(SHADES * share)))}"


def rank_range_chart(proposals: list[dict[str, Any]], samples: int) -> str:
    """One row a proposal, one column a rank: each cell shaded by the share of the sampled weightings that
    gave the proposal that rank, its rank under the weighting itself ringed, and its 5th–95th percentile
    ranks as a line. ``proposals`` are sensitivity's proposals with ``rank_counts``, in ranking order."""
    rows = proposals[:RANGE_ROWS]
    ranks = max((p["rank"] for p in proposals), default=1)
    ranks = max(ranks, max((r for p in rows for r, _ in p["rank_counts"]), default=1))
    columns = min(ranks, RANGE_COLUMNS)
    # about 640 units wide whatever the number of ranks (a column 8 to 40 units), one 14-unit row a proposal
    label_w, top, row = 110, 30, 14
    cell = max(8.0, min(40.0, (640 - label_w - 20) / columns))
    width = max(label_w + cell * columns + 20, 420)
    height = top + row * len(rows) + 30

    def col(rank: float) -> int:
        return min(int(rank), columns) - 1

    desc = (
        f"For each of {'the first ' + str(len(rows)) + ' of ' if len(rows) < len(proposals) else ''}"
        f"{len(proposals)} proposals, how often each rank occurred over {samples} sampled weightings: "
        "darker is more often. The ring marks the rank under the weighting itself; the line spans the 5th "
        "to 95th percentile rank."
        + (f" Ranks after {columns} share the last column." if ranks > columns else "")
        + " The table below gives every figure."
    )
    parts = _open("chart rank-range", width, height, "range", "How often each rank occurs", desc)
    more = ranks > columns  # the last column gathers the later ranks

    def name(rank: int) -> str:
        return f"{rank}+" if rank == columns and more else str(rank)

    for r in sorted({1, *range(10, columns + 1, 10), columns}):
        x = label_w + (r - 0.5) * cell
        parts.append(f'<text x="{x:.1f}" y="{top - 8}" class="axis middle">{name(r)}</text>')
    for i, p in enumerate(rows):
        y = top + i * row
        ref = escape(p["reference"])
        counts = [0] * columns
        for r, n in p["rank_counts"]:
            counts[col(r)] += n
        parts.append(
            f"<g><title>{ref}: rank {p['rank']}, "
            f"5th–95th percentile {p['rank_p5']:g}–{p['rank_p95']:g}</title>"
        )
        parts.append(f'<text x="{label_w - 6}" y="{y + row - 3}" class="label">{ref}</text>')
        for c, n in enumerate(counts):
            if n:
                share = n / samples
                parts.append(
                    f'<rect x="{label_w + c * cell:.1f}" y="{y}" width="{cell - 1:.1f}" height="{row - 1}" '
                    f'class="{shade(share)}"><title>{ref}: rank {name(c + 1)} in {share:.0%} of draws'
                    "</title></rect>"
                )
        lo, hi = label_w + (col(p["rank_p5"]) + 0.5) * cell, label_w + (col(p["rank_p95"]) + 0.5) * cell
        cy = y + (row - 1) / 2
        parts.append(
            f'<line x1="{lo:.1f}" y1="{cy:.1f}" x2="{hi:.1f}" y2="{cy:.1f}" class="range-line"/>'
            f'<circle cx="{label_w + (col(p["rank"]) + 0.5) * cell:.1f}" cy="{cy:.1f}" r="4" '
            'class="range-rank"/></g>'
        )
    ly = top + row * len(rows) + 20
    parts.append(
        f'<g class="legend"><rect x="{label_w}" y="{ly - 9}" width="10" height="10" class="rr-2"/>'
        f'<text x="{label_w + 14}" y="{ly}" class="axis">rare</text>'
        f'<rect x="{label_w + 50}" y="{ly - 9}" width="10" height="10" class="rr-10"/>'
        f'<text x="{label_w + 64}" y="{ly}" class="axis">every draw</text>'
        f'<circle cx="{label_w + 150}" cy="{ly - 4}" r="4" class="range-rank"/>'
        f'<text x="{label_w + 158}" y="{ly}" class="axis">rank under the weighting</text></g>'
    )
    parts.append("</svg>")
    return "".join(parts)
