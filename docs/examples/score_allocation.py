"""Score your whole allocation from a script.

    SERR_URL=http://127.0.0.1:8000 SERR_TOKEN=serr_... python score_allocation.py scores.csv

``scores.csv`` has one row per proposal and principle: ``reference,principle,score,rationale``
(write ``na`` as the score for not applicable). Every proposal of your allocation that has all twelve
rows is submitted; the others are saved as drafts. The batch is all or nothing: if any item is
refused, nothing is saved and every problem is printed.
"""

from __future__ import annotations

import csv
import os
import sys
from collections import defaultdict

import httpx


def read_answers(path: str) -> dict[str, list[dict]]:
    answers: dict[str, list[dict]] = defaultdict(list)
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            na = row["score"].strip().lower() == "na"
            answers[row["reference"]].append(
                {
                    "principle": int(row["principle"]),
                    "score": None if na else int(row["score"]),
                    "not_applicable": na,
                    "rationale": row.get("rationale", ""),
                }
            )
    return answers


def score_allocation(client: httpx.Client, answers: dict[str, list[dict]]) -> httpx.Response:
    allocation = client.get("/api/v1/users/me/allocation").json()["items"]
    items = [
        {
            "proposal_id": a["proposal_id"],
            "scores": answers[a["reference"]],
            "submit": len(answers[a["reference"]]) == 12,
        }
        for a in allocation
        if a["reference"] in answers and a["scorecard_status"] != "submitted" and not a["conflict"]
    ]
    return client.post("/api/v1/scorecards/batch", json={"items": items})


def main() -> int:
    headers = {"Authorization": f"Bearer {os.environ['SERR_TOKEN']}"}
    with httpx.Client(
        base_url=os.environ.get("SERR_URL", "http://127.0.0.1:8000"), headers=headers
    ) as client:
        r = score_allocation(client, read_answers(sys.argv[1]))
    if r.status_code != 200:
        for e in r.json().get("errors", []):
            print("/".join(map(str, e["loc"])), e["msg"], file=sys.stderr)
        return 1
    print(f"saved {r.json()['saved']} scorecards, submitted {r.json()['submitted']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
