"""The board pack of a 300-proposal submission with 40 funded, beside a floor measured in the same run.

    .venv/bin/python bench/bench_pack.py [proposals] [funded]

The submission is synthetic but real: a version-2 inputs document (300 proposals, a panel of five, twelve
principles, three financial years) whose results are computed by the service's own code (ranking with
rank intervals, the optimal selection and the walk), with the budgets set so that the optimal selection
funds 40. The figure is the pack as the endpoint builds it (the frozen record to text, the charts to SVG,
the Typst compile to PDF in its child process), median of 3. The floor compiles, with the same library and
fonts, through the same child process, a plain document with the same number of pages and the same page
footer. Peak memory is the maximum resident set size of this process after the packs (with the Python
heap's peak during one pack, from tracemalloc) and of the typesetting child processes.
"""

from __future__ import annotations

import json
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.models import Submission  # noqa: E402
from app.pack.service import TYPESET, build  # noqa: E402
from app.rankings import compute  # noqa: E402
from app.submissions.service import sha256  # noqa: E402

TARGET_S = 10.0
NET_A_YEAR = 100_000_000  # pence: £1m
YEARS = ["2030-31", "2031-32", "2032-33"]
CAPABILITIES = ("Digital Exploitation", "Surveillance", "Estates", "People", "Intelligence", "Borders")


def inputs_document(n: int, seed: int = 7) -> dict:
    rng = random.Random(seed)
    proposals, answers = [], []
    scorers = [101, 102, 103, 104, 105]
    for i in range(n):
        pid = i + 1
        # costs and savings vary; the net is £1m a year for every proposal, so that a budget of
        # `funded` millions a year funds exactly `funded` proposals (the best-scored ones)
        cost = [rng.randint(100, 4000) * 100_000 for _ in YEARS]
        saving = [c - NET_A_YEAR for c in cost]
        proposals.append(
            {
                "id": pid,
                "reference": f"SR30-{pid:03d}",
                "title": f"Proposal {pid}: national service improvement {rng.randint(1, 10**5)}",
                "capability": rng.choice(CAPABILITIES),
                "kind": rng.choice(("investment", "efficiency", "reinvestment")),
                "panel_id": 1,
                "cost": cost,
                "saving": saving,
                "eligible": scorers,
            }
        )
        merit = rng.uniform(0.5, 4.0)
        for sid in scorers:
            for k in range(1, 13):
                if k >= 10 and rng.random() < 0.2:
                    answers.append([pid, sid, k, None, True])
                else:
                    answers.append([pid, sid, k, max(0, min(5, round(merit + rng.gauss(0, 0.8)))), False])
    points = (8, 14, 6, 6, 8, 5, 18, 14, 8, 4, 5, 4)  # the demo's board steer, 100 points
    weights = {str(k): p / 100 for k, p in enumerate(points, start=1)}
    return {
        "version": 2,
        "cycle": {
            "id": 1,
            "name": "SR30 bench",
            "financial_years": YEARS,
            "scale_min": 0,
            "scale_max": 5,
            "not_applicable_policy": "minimum",
            "min_scorecards": 3,
            "disagreement_threshold": 2,
            "budgets": {y: 0 for y in YEARS},
        },
        "weighting": {"id": 1, "name": "Board steer", "method": "points", "weights": weights},
        "aggregation": "mean",
        "options": {"include_below_quorum": False, "resamples": 1000, "seed": 0},
        "proposals": proposals,
        "answers": answers,
        "moderated": [[1, 7, 4, False]],
    }


def request_for(budget: int) -> dict:
    return {
        "budgets": {y: budget for y in YEARS},
        "must_fund": [],
        "exclude": [],
        "dependencies": [],
        "exclusive_groups": [],
        "time_limit_s": 10.0,
    }


def submission(n: int, funded: int) -> Submission:
    """A frozen submission of ``n`` proposals whose optimal selection funds ``funded``."""
    inputs = inputs_document(n)
    inputs["cycle"]["budgets"] = {y: funded * NET_A_YEAR for y in YEARS}
    selection = compute.selection(inputs, request_for(funded * NET_A_YEAR), with_frontier=False)
    assert len(selection["selected"]) == funded, len(selection["selected"])
    request = request_for(inputs["cycle"]["budgets"][YEARS[0]])
    result = compute.ranking(inputs)
    content = {
        "title": f"Bench submission: {n} proposals, {funded} funded",
        "note": "",
        "inputs": inputs,
        "selection_request": request,
        "results": {
            "ranking": [it for it in result["items"] if it["rank"] is not None],
            "not_ranked": [it for it in result["items"] if it["rank"] is None],
            "budget_walk": result["budget_walk"],
            "note": result["note"],
            "selection": selection,
        },
    }
    return Submission(
        id=1,
        cycle_id=1,
        title=content["title"],
        content=content,
        content_sha256=sha256(content),
        created_at=datetime(2030, 4, 1, 9, 30, tzinfo=UTC),
    )


FLOOR = """#let pack = json(bytes(sys.inputs.pack))
#set document(title: "floor", date: datetime(year: 2030, month: 4, day: 1))
#set text(font: "Libertinus Serif", size: 10pt)
#set page(
  paper: "a4", footer: context [#pack.cycle #h(1fr) page #counter(page).display("1 of 1", both: true)],
)
#for i in range(pack.pages) { if i > 0 { pagebreak() }; [Page #(i + 1).] }
"""


def floor_pdf(pages: int, template: Path) -> bytes:
    """A plain document of the same page count through the same typesetting child process."""
    done = subprocess.run(
        [sys.executable, str(TYPESET), str(template), "1900000000"],
        input=json.dumps({"cycle": "SR30 bench", "pages": pages}).encode(),
        capture_output=True,
        check=True,
    )
    return done.stdout


def timed(fn, repeat: int = 3) -> tuple[list[float], object]:
    times, out = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return times, out


def main() -> None:
    import io

    from pypdf import PdfReader

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    funded = int(sys.argv[2]) if len(sys.argv) > 2 else 40
    setup = time.perf_counter()
    sub = submission(n, funded)
    setup = time.perf_counter() - setup
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    times, pdf = timed(lambda: build(sub, "Bench <bench@example.org>"))
    rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    seconds = statistics.median(times)
    pages = len(PdfReader(io.BytesIO(pdf)).pages)
    with tempfile.TemporaryDirectory() as tmp:
        template = Path(tmp) / "floor.typ"
        template.write_text(FLOOR, encoding="utf-8")
        floor_times, floor = timed(lambda: floor_pdf(pages, template))
    floor_s = statistics.median(floor_times)
    assert len(PdfReader(io.BytesIO(floor)).pages) == pages
    tracemalloc.start()
    build(sub, "Bench <bench@example.org>")
    _, heap_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(
        f"board pack: {n} proposals, {funded} funded, {pages} pages, {len(pdf) / 1024:.0f} KiB "
        f"(setup: the submission computed in {setup:.1f} s)"
    )
    print(f"{'what':<34}{'median s':>10}{'first s':>9}{'target s':>10}{'ratio':>8}")
    print(
        f"{'pack (frozen record -> PDF)':<34}{seconds:>10.2f}{times[0]:>9.2f}{TARGET_S:>10.1f}"
        f"{seconds / TARGET_S:>8.2f}  {'PASS' if seconds < TARGET_S else 'FAIL'}"
    )
    print(
        f"{'floor (plain doc, same pages)':<34}{floor_s:>10.2f}{floor_times[0]:>9.2f}{'':>10}"
        f"{seconds / floor_s:>7.1f}x"
    )
    child_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(
        f"peak memory: the service process {rss_mib:.0f} MiB resident after the packs ({rss_before:.0f} "
        f"MiB before them; Python heap peak during one pack {heap_peak / 2**20:.1f} MiB); the typesetting "
        f"child process {child_mib:.0f} MiB at most"
    )
    if seconds >= TARGET_S:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
