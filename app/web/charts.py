"""Charts as inline SVG, drawn on the server: nothing is loaded from elsewhere."""

from __future__ import annotations

from html import escape
from typing import Any


def ranking_bars(items: list[dict[str, Any]], selected: set[int], line_after: int | None) -> str:
    """Horizontal bars of weighted score (0-100), funded proposals dark, with the budget line drawn
    below the last proposal that fits when walking down the list."""
    row, label_w, bar_w = 22, 150, 420
    height = row * len(items) + 40
    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {label_w + bar_w + 60} {height}" '
        f'aria-label="Weighted score of each proposal, in rank order; dark bars are in the selection">',
    ]
    for x in range(0, 101, 25):
        gx = label_w + bar_w * x / 100
        parts.append(
            f'<line x1="{gx}" y1="10" x2="{gx}" y2="{height - 25}" class="grid"/>'
            f'<text x="{gx}" y="{height - 10}" class="axis">{x}</text>'
        )
    for i, it in enumerate(items):
        y = 12 + i * row
        w = bar_w * max(0.0, min(100.0, it["weighted_score"])) / 100
        cls = "bar funded" if it["proposal_id"] in selected else "bar"
        ref, score = escape(it["reference"]), it["weighted_score"]
        ref, score = escape(it["reference"]), it["weighted_score"]
        parts.append(
            f"<g><title>{ref}: {score:.1f} ({escape(it['title'])})</title>"
            f'<text x="{label_w - 6}" y="{y + 14}" class="label">{it["rank"]}. {ref}</text>'
            f'<rect x="{label_w}" y="{y + 2}" width="{w:.1f}" height="{row - 6}" class="{cls}"/>'
            f'<text x="{label_w + w + 4:.1f}" y="{y + 14}" class="value">{score:.1f}</text></g>'
        )
        if line_after is not None and i == line_after:
            ly = y + row - 1
            parts.append(
                f'<line x1="0" y1="{ly}" x2="{label_w + bar_w + 60}" y2="{ly}" class="budget-line"/>'
                f'<text x="{label_w + bar_w + 56}" y="{ly - 3}" class="budget-label">budget</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


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


def heat_colour(score: float | None, scale_min: int, scale_max: int) -> str:
    if score is None:
        return "#f3f2f1"
    t = (score - scale_min) / (scale_max - scale_min)
    # from pale to dark blue
    r, g, b = int(232 - 200 * t), int(240 - 140 * t), int(250 - 60 * t)
    return f"rgb({r},{g},{b})"
