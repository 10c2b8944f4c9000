"""Server-side time of the main pages and API reads on the demo data (SQLite), measured in-process.

    .venv/bin/python bench/bench_pages.py

Prints the median and worst of several requests per page. The floor measured in the same run is
GET /healthz (routing and response with no database work). Target: every page within a few hundred
milliseconds.
"""

from __future__ import annotations

import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fastapi.testclient import TestClient  # noqa: E402

from app.config import Settings  # noqa: E402
from app.db import Database  # noqa: E402
from app.demo import DEMO_PASSWORD, load_demo  # noqa: E402
from app.main import create_app  # noqa: E402
from app.migrate import upgrade  # noqa: E402

TARGET_MS = 300
RUNS = 7


def timed(client: TestClient, url: str) -> tuple[float, float, int]:
    times, status = [], 0
    for _ in range(RUNS):
        t0 = time.perf_counter()
        r = client.get(url)
        times.append((time.perf_counter() - t0) * 1000)
        status = r.status_code
    return statistics.median(times), max(times), status


def sign_in(client: TestClient, who: str) -> None:
    client.cookies.clear()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
    client.post(
        "/login",
        data={"email": f"{who}@example.org", "password": DEMO_PASSWORD, "csrf_token": token, "next": "/"},
    )


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        upgrade(url)
        settings = Settings(
            database_url=url,
            environment="test",
            argon2_time_cost=1,
            argon2_memory_kib=64,
            argon2_parallelism=1,
        )
        db = Database.from_settings(settings)
        with db.unit_of_work() as session:
            load_demo(session, settings)
        db.dispose()
        app = create_app(settings)
        client = TestClient(app)
        floor = timed(client, "/healthz")
        print(f"{'page':58} {'median':>9} {'worst':>9}  status")
        print(f"{'floor: GET /healthz':58} {floor[0]:8.1f}ms {floor[1]:8.1f}ms  {floor[2]}")
        pages = {
            "scorer1": ["/", "/proposals", "/proposals/31/score"],
            "chair": ["/panels/1", "/panels/1?proposal_id=3", "/weightings"],
            "finance": [
                "/ranking",
                "/ranking?weighting_id=2&aggregation=calibrated&proposal_id=5",
                "/submissions",
                "/ranking.csv?cycle_id=1",
                "/ranking.xlsx?cycle_id=1",
            ],
            "admin": ["/admin"],
        }
        worst_all, failed = 0.0, []
        for who, urls in pages.items():
            sign_in(client, who)
            for u in urls:
                median, worst, status = timed(client, u)
                worst_all = max(worst_all, median)
                mark = "PASS" if median <= TARGET_MS and status == 200 else "MISS"
                if mark == "MISS":
                    failed.append(u)
                print(f"{who + ' GET ' + u:58} {median:8.1f}ms {worst:8.1f}ms  {status}  {mark}")
        verdict = "PASS" if not failed else "MISS"
        print(f"slowest page median {worst_all:.1f} ms; target <= {TARGET_MS} ms: {verdict}")
        app.state.db.dispose()
        return 0 if not failed else 1


if __name__ == "__main__":
    raise SystemExit(main())
