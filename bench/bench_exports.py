"""CSV and XLSX exports of a 2,000-row ranking beside their floors, measured in the same run.

    .venv/bin/python bench/bench_exports.py [rows]

The items are synthetic, in the shape ``compute.ranking`` gives (money as decimal strings, twelve
principle scores, a rank interval, the walk flags; a few rows unscored or below quorum). The floors write
the same values, already as plain tuples, with ``csv.writer`` and with an openpyxl write-only workbook
without any styles; the export figures include turning the items into rows, escaping and formats.
Medians of 3."""

from __future__ import annotations

import csv
import io
import random
import statistics
import sys
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.rankings import exports  # noqa: E402

KINDS = ("investment", "efficiency", "reinvestment")


def synthetic_items(n: int, seed: int = 1) -> list[dict]:
    rng = random.Random(seed)
    items = []
    for i in range(n):
        scored = i % 50 != 49
        cost = Decimal(rng.randint(100, 9000) * 1000).quantize(Decimal("0.01"))
        saving = Decimal(rng.randint(0, 5000) * 1000).quantize(Decimal("0.01"))
        score = rng.uniform(20, 90) if scored else None
        items.append(
            {
                "rank": i + 1 if scored else None,
                "proposal_id": i + 1,
                "reference": f"SR30-{i + 1:04d}",
                "title": f"Proposal {i + 1}: a national service for case {rng.randint(1, 10**6)}",
                "capability": rng.choice(("Digital Exploitation", "Surveillance", "Estates", "People")),
                "kind": rng.choice(KINDS),
                "panel_id": 1 + i % 8,
                "weighted_score": score,
                "rank_interval": {"low": float(i + 1), "high": float(i + 3)} if scored else None,
                "p_funded": rng.random() if scored else None,
                "below_quorum": not scored,
                "scorers": 25 if scored else 0,
                "eligible": 25,
                "quorum": 3,
                "coverage_text": "25 of 25 submitted" if scored else "not yet scored",
                "quorum_note": None,
                "principle_scores": {
                    str(p): (round(rng.uniform(0, 5), 2) if scored else None) for p in range(1, 13)
                },
                "max_spread": rng.choice((1.0, 2.0, 3.0)) if scored else None,
                "coverage": 1.0 if scored else 0.0,
                "complete": scored,
                "total_cost": str(cost),
                "total_saving": str(saving),
                "net_cost": str(cost - saving),
                "score_per_million": score / float(cost) * 1e6 if scored else None,
                "funded_by_walk": scored and i < n // 3,
                "skipped_by_walk": scored and i >= n // 3,
            }
        )
    return items


def plain_rows(items: list[dict]) -> list[tuple]:
    """The values the floors write: what one SQL query would hand over, no escaping or formats."""
    return [
        tuple(
            float(v) if isinstance(v, Decimal) else v
            for v in (exports.cell(it, key) for key, _ in exports.COLUMNS)
        )
        for it in items
    ]


def csv_floor(rows: list[tuple]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow([title for _, title in exports.COLUMNS])
    w.writerows(rows)
    return buf.getvalue().encode("utf-8-sig")


def xlsx_floor(rows: list[tuple]) -> bytes:
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("Ranking")
    ws.append([title for _, title in exports.COLUMNS])
    for row in rows:
        ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def median_time(fn, *args) -> float:
    times = []
    for _ in range(3):
        t = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main(n: int = 2000) -> None:
    items = synthetic_items(n)
    rows = plain_rows(items)
    weighting = {
        "name": "Equal weights",
        "method": "direct",
        "weights": {str(p): 1 / 12 for p in range(1, 13)},
    }
    header = exports.header_block("SR30 SE&RR", weighting, "mean", "bench@example.org", datetime.now(UTC))
    figures = [
        ("CSV", median_time(exports.to_csv, items), median_time(csv_floor, rows), 2.0),
        ("XLSX", median_time(exports.to_xlsx, items, header), median_time(xlsx_floor, rows), 1.5),
    ]
    print(f"{n} rows          figure    floor   ratio  target")
    for name, figure, floor, target in figures:
        ratio = figure / floor
        verdict = "PASS" if ratio <= target else "FAIL"
        print(f"{name:<5} export   {figure:7.3f} s {floor:6.3f} s {ratio:6.2f}x  <= {target}x  {verdict}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)
