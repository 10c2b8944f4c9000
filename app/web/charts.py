"""Charts as inline SVG, drawn on the server: nothing is loaded from elsewhere."""

from __future__ import annotations

from functools import lru_cache
from html import escape
from pathlib import Path
from typing import Any


def ranking_bars(
    items: list[dict[str, Any]],
    selected: set[int],
    walk: dict[str, Any] | None,
    *,
    start: int = 0,
    total: int | None = None,
) -> str:
    """Horizontal bars of weighted score (0-100) for the ranked proposals, in rank order.

    ``items`` may be one page of the ranked list: ``start`` is the position of its first item in the whole
    list and ``total`` the length of the whole list (the rank axis spans every rank).

    Dark bars are in the best funded set. ``walk`` is the budget walk down the list (the ranking's
    ``budget_walk``, from ``scoring.budget_walk``): the dashed budget line is drawn below the last
    proposal it funds -- where walking down the list stops funding -- and proposals above that line which
    it skips because they do not fit what is left are hatched. When items carry a ``rank_interval``, a
    second panel shows each proposal's rank (dot) and its 5th-95th percentile rank interval (whisker).
    """
    row, label_w, bar_w, gap, rank_w = 22, 150, 420, 60, 180
    n = len(items)
    ranks = n if total is None else total
    whiskers = any(it.get("rank_interval") for it in items)
    rank_x0 = label_w + bar_w + gap
    width = rank_x0 + (rank_w + 20 if whiskers else 0)
    height = row * n + 86
    axis_y = row * n + 20
    line_after = None if walk is None else walk["last_funded_position"]
    skipped = set() if walk is None else set(walk["skipped"])
    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" '
        'aria-label="Weighted score of each ranked proposal, in rank order; dark bars are in the best funded '
        'set, hatched bars are skipped by the budget walk, the dashed line is where the walk stops funding">',
        '<defs><pattern id="skip-hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
        'patternTransform="rotate(45)"><rect width="6" height="6" class="hatch-bg"/>'
        '<line x1="0" y1="0" x2="0" y2="6" class="hatch"/></pattern></defs>',
    ]
    for x in range(0, 101, 25):
        gx = label_w + bar_w * x / 100
        parts.append(
            f'<line x1="{gx}" y1="10" x2="{gx}" y2="{axis_y - 5}" class="grid"/>'
            f'<text x="{gx}" y="{axis_y + 10}" class="axis">{x}</text>'
        )

    def rank_x(r: float) -> float:
        return rank_x0 + rank_w * (r - 1) / max(ranks - 1, 1)

    if whiskers:
        for r in sorted({1, max(1, (ranks + 1) // 2), ranks}):
            gx = rank_x(r)
            parts.append(
                f'<line x1="{gx:.1f}" y1="10" x2="{gx:.1f}" y2="{axis_y - 5}" class="grid"/>'
                f'<text x="{gx:.1f}" y="{axis_y + 10}" class="axis">{r}</text>'
            )
        parts.append(f'<text x="{rank_x0}" y="{axis_y + 24}" class="axis">rank (5th–95th percentile)</text>')
    for i, it in enumerate(items):
        y = 12 + i * row
        score = it["weighted_score"]
        w = bar_w * max(0.0, min(100.0, score)) / 100
        passed_over = it["proposal_id"] in skipped and line_after is not None and start + i < line_after
        cls = "bar funded" if it["proposal_id"] in selected else "bar"
        if passed_over:
            cls += " skipped"
        ref = escape(it["reference"])
        note = ", skipped: does not fit what is left of the budget" if passed_over else ""
        parts.append(
            f"<g><title>{ref}: {score:.1f} ({escape(it['title'])}){note}</title>"
            f'<text x="{label_w - 6}" y="{y + 14}" class="label">{it["rank"]}. {ref}</text>'
            f'<rect x="{label_w}" y="{y + 2}" width="{w:.1f}" height="{row - 6}" class="{cls}"/>'
            f'<text x="{label_w + w + 4:.1f}" y="{y + 14}" class="value">{score:.1f}'
            f"{' skipped' if passed_over else ''}</text></g>"
        )
        interval = it.get("rank_interval")
        if interval:
            lo, hi, cy = rank_x(interval["low"]), rank_x(interval["high"]), y + row / 2 - 1
            parts.append(
                f'<g class="whisker"><title>{ref}: rank {it["rank"]}, 5th–95th percentile '
                f"{interval['low']:g}–{interval['high']:g}</title>"
                f'<line x1="{lo:.1f}" y1="{cy:.1f}" x2="{hi:.1f}" y2="{cy:.1f}" class="interval"/>'
                f'<line x1="{lo:.1f}" y1="{cy - 4:.1f}" x2="{lo:.1f}" y2="{cy + 4:.1f}" class="interval"/>'
                f'<line x1="{hi:.1f}" y1="{cy - 4:.1f}" x2="{hi:.1f}" y2="{cy + 4:.1f}" class="interval"/>'
                f'<circle cx="{rank_x(it["rank"]):.1f}" cy="{cy:.1f}" r="3" class="rank-dot"/></g>'
            )
        if line_after is not None and start + i == line_after:
            ly = y + row - 1
            parts.append(
                f'<line x1="0" y1="{ly}" x2="{width}" y2="{ly}" class="budget-line"/>'
                f'<text x="{label_w + bar_w + gap - 4}" y="{ly - 3}" class="budget-label">budget</text>'
            )
    parts.append(_ranking_legend(label_w, axis_y + 34, walk is not None or bool(selected)))
    parts.append("</svg>")
    return "".join(parts)


def _ranking_legend(x: int, y: int, funded_set: bool) -> str:
    """The bar chart's key, drawn in the chart (so it goes wherever the chart goes, the board pack too): the
    two bar colours, and the hatched bar and the budget line where there is a funded set."""

    def swatch(dx: int, cls: str, words: str) -> str:  # a coloured square and its words, on the first line
        return (
            f'<rect x="{x + dx}" y="{y - 9}" width="12" height="10" class="{cls}"/>'
            f'<text x="{x + dx + 16}" y="{y}" class="axis">{words}</text>'
        )

    if not funded_set:
        alone = swatch(0, "bar", "weighted score (no funded set: no budget to fund from)")
        return f'<g class="legend">{alone}</g>'
    return (
        '<g class="legend">'
        + swatch(0, "bar funded", "in the best funded set")
        + swatch(150, "bar", "not funded")
        + f'<rect x="{x}" y="{y + 7}" width="12" height="10" class="bar skipped"/>'
        f'<text x="{x + 16}" y="{y + 16}" class="axis">skipped by the walk: does not fit</text>'
        f'<line x1="{x + 210}" y1="{y + 12}" x2="{x + 236}" y2="{y + 12}" class="budget-line"/>'
        f'<text x="{x + 240}" y="{y + 16}" class="axis">where the walk stops funding</text></g>'
    )


def profile_bars(
    scores: dict[str, float | None], scale_min: int, scale_max: int, titles: dict[int, str]
) -> str:
    """A proposal's aggregated score on each principle."""
    row, label_w, bar_w = 18, 40, 200
    height = row * 12 + 6
    parts = [
        f'<svg class="profile" role="img" viewBox="0 0 {label_w + bar_w + 40} {height}" '
        f'aria-label="Aggregated score per principle">'
    ]
    for k in range(1, 13):
        y = 3 + (k - 1) * row
        v = scores.get(str(k))
        w = 0 if v is None else bar_w * (v - scale_min) / (scale_max - scale_min)
        shown = "–" if v is None else f"{v:.1f}"
        parts.append(
            f"<g><title>P{k} {escape(titles.get(k, ''))}: {shown}</title>"
            f'<text x="{label_w - 4}" y="{y + 12}" class="label">P{k}</text>'
            f'<rect x="{label_w}" y="{y + 2}" width="{w:.1f}" height="{row - 5}" class="bar"/>'
            f'<text x="{label_w + w + 3:.1f}" y="{y + 12}" class="value">{shown}</text></g>'
        )
    parts.append("</svg>")
    return "".join(parts)


HEAT_LEVELS = 10


def heat_class(score: float | None, scale_min: int, scale_max: int) -> str:
    """The heat map cell's class: ``heat-0`` (lowest score, pale) to ``heat-10`` (highest, dark blue),
    ``heat-none`` for no score; the colours are in app.css (no inline style under the pages' CSP)."""
    if score is None:
        return "heat-none"
    t = (score - scale_min) / (scale_max - scale_min)
    return f"heat-{round(HEAT_LEVELS * min(1.0, max(0.0, t)))}"


def profile_compare(
    funded: dict[str, float | None], rest: dict[str, float | None], scale_min: int, scale_max: int
) -> str:
    """Two bars a principle: the mean aggregated score of the funded set (dark) and of the rest (light)."""
    row, label_w, bar_w = 30, 40, 360
    height = row * 12 + 36
    parts = [
        f'<svg class="profile" role="img" viewBox="0 0 {label_w + bar_w + 60} {height}" '
        'aria-label="Mean aggregated score per principle: the funded set against the rest">'
    ]
    for k in range(1, 13):
        y = 3 + (k - 1) * row
        parts.append(f'<text x="{label_w - 4}" y="{y + 17}" class="label">P{k}</text>')
        for offset, values, cls, who in ((0, funded, "bar funded", "funded"), (13, rest, "bar", "rest")):
            v = values.get(str(k))
            w = 0 if v is None else bar_w * (v - scale_min) / (scale_max - scale_min)
            shown = "–" if v is None else f"{v:.1f}"
            parts.append(
                f"<g><title>P{k} {who}: {shown}</title>"
                f'<rect x="{label_w}" y="{y + offset}" width="{w:.1f}" height="11" class="{cls}"/>'
                f'<text x="{label_w + w + 3:.1f}" y="{y + offset + 10}" class="value">{shown}</text></g>'
            )
    ly = row * 12 + 20
    parts.append(
        f'<g class="legend"><rect x="{label_w}" y="{ly - 9}" width="12" height="10" class="bar funded"/>'
        f'<text x="{label_w + 16}" y="{ly}" class="axis">funded set (mean)</text>'
        f'<rect x="{label_w + 140}" y="{ly - 9}" width="12" height="10" class="bar"/>'
        f'<text x="{label_w + 156}" y="{ly}" class="axis">the rest of the ranked list (mean)</text></g>'
    )
    parts.append("</svg>")
    return "".join(parts)


STYLESHEET = Path(__file__).resolve().parent / "static" / "app.css"


@lru_cache(maxsize=1)
def chart_rules() -> str:
    """The charts' colours and strokes: the ``svg .…`` rules of the pages' stylesheet, the one definition
    both the pages (through app.css) and the board pack's standalone SVGs use."""
    rules = [
        line
        for line in STYLESHEET.read_text(encoding="utf-8").splitlines()
        if line.startswith("svg .") and "{" in line
    ]
    return "\n".join(rules).replace("svg .", ".")


def standalone(svg: str) -> str:
    """A chart drawn for the pages, made a self-contained SVG document: its namespace and its styles."""
    style = f"<style>{chart_rules()}\ntext {{ font-family: 'Libertinus Serif', serif; }}</style>"
    return svg.replace("<svg ", '<svg xmlns="http://www.w3.org/2000/svg" ', 1).replace(">", ">" + style, 1)
