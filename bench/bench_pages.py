"""Server-side time of each main page of the web client, per role, on the demo data, beside the routing floor.

    .venv/bin/python bench/bench_pages.py            # every page
    .venv/bin/python bench/bench_pages.py --runs 50  # more requests per page

The database is a temporary SQLite file, migrated and loaded with the demo cycle exactly as ``make run``
loads it (``serr demo``: 40 proposals, a panel of five half-way through scoring, a weighting). The app is
the one ``serr serve`` runs (``create_app``, development settings as ``make run`` has them), driven
in-process by Starlette's TestClient through its whole middleware stack.

Each role signs in through the real /login form. Every page is requested a few times to warm it up (those
are discarded), then ``--runs`` times (30 by default); the median and the 95th percentile are printed.
The floor is measured in the same run, with the same client and session cookie, one request right before
each timed request of the page: GET /healthz, a trivial route of the same app behind the same middleware
(routing, security headers, the denial audit, the TestClient's own transport), so ``floor`` is its median
beside each page and ``ratio`` is how many floors the page costs. Also printed: the SQL statements
one request of the page sends (SQLAlchemy's ``before_cursor_execute`` on the app's engines).

Target: each page's median within 150 ms. The exit status is 0 when every page meets it and answers 200,
1 otherwise.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import event, select  # noqa: E402

from app.config import Settings  # noqa: E402
from app.db import Database  # noqa: E402
from app.demo import DEMO_DOMAIN, DEMO_PASSWORD, load_demo  # noqa: E402
from app.main import create_app  # noqa: E402
from app.migrate import upgrade  # noqa: E402
from app.models import Cycle, Panel, Proposal, User, Weighting  # noqa: E402

TARGET_MS = 150.0
WARM_UP = 3
FLOOR = "/healthz"


def pages(ids: dict) -> dict[str, list[str]]:
    """The main pages of each persona on the demo data (the addresses their links lead to)."""
    c, panel, first = ids["cycle_id"], ids["panel_id"], ids["proposal_id"]
    return {
        "admin": [
            "/",
            "/admin",
            "/admin/users",
            f"/admin/users/{ids['scorer_id']}",
            "/admin/locks",
            "/admin/mfa",
            "/audit",
            "/cycles",
            f"/cycles/{c}",
            f"/admin/import?cycle_id={c}",
            "/proposals",
            "/account",
        ],
        "chair": [
            "/",
            "/panels",
            f"/panels/{panel}",
            f"/panels/{panel}/proposals/{first}",
            f"/panels/{panel}/manage",
            f"/weightings?cycle_id={c}",
            f"/ranking?cycle_id={c}",
        ],
        "scorer1": ["/", "/proposals", f"/proposals/{first}", f"/proposals/{ids['to_score_id']}/score"],
        "finance": [
            "/",
            f"/ranking?cycle_id={c}",
            f"/ranking?cycle_id={c}&weighting_id={ids['weighting_id']}&aggregation=calibrated",
            f"/ranking/compare?cycle_id={c}&b={ids['weighting_id']}",
            f"/ranking/sensitivity?cycle_id={c}",
            f"/ranking/selection?cycle_id={c}",
            f"/submissions?cycle_id={c}",
        ],
        # the demo cycle is past proposals (scoring): the proposer reads their own
        "proposer": ["/", "/proposals", f"/proposals/{ids['own_proposal_id']}", "/account"],
    }


def demo_ids(db: Database) -> dict:
    with db.unit_of_work(write=False) as s:
        proposer = s.scalar(select(User.id).where(User.email == f"proposer@{DEMO_DOMAIN}"))
        scorer = s.scalar(select(User.id).where(User.email == f"scorer1@{DEMO_DOMAIN}"))
        ids = {
            "cycle_id": s.scalar(select(Cycle.id).order_by(Cycle.id)),
            "scorer_id": scorer,
            "panel_id": s.scalar(select(Panel.id).order_by(Panel.id)),
            "proposal_id": s.scalar(select(Proposal.id).order_by(Proposal.id)),
            "own_proposal_id": s.scalar(
                select(Proposal.id).where(Proposal.proposer_id == proposer).order_by(Proposal.id)
            ),
            "weighting_id": s.scalar(select(Weighting.id).where(Weighting.is_default.is_(False))),
        }
        # the last proposal: past the first thirty, where some scorecards are still drafts or not started
        ids["to_score_id"] = s.scalar(select(Proposal.id).order_by(Proposal.id.desc()))
    return ids


def sign_in(client: TestClient, handle: str) -> None:
    client.cookies.clear()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
    r = client.post(
        "/login",
        data={
            "email": f"{handle}@{DEMO_DOMAIN}",
            "password": DEMO_PASSWORD,
            "csrf_token": token,
            "next": "/",
        },
        follow_redirects=False,
    )
    if r.status_code != 303:
        raise SystemExit(f"sign-in as {handle}: HTTP {r.status_code}")


def timed(client: TestClient, url: str, runs: int) -> tuple[list[float], list[float], int]:
    """``runs`` requests of ``url`` after the warm-up, each right after one of the floor: the two series are
    measured under the same load, however the machine's load drifts during the run."""
    status = 0
    for _ in range(WARM_UP):
        client.get(FLOOR)
        status = client.get(url, follow_redirects=False).status_code
    times, floor = [], []
    for _ in range(runs):
        t0 = time.perf_counter()
        client.get(FLOOR)
        t1 = time.perf_counter()
        r = client.get(url, follow_redirects=False)
        t2 = time.perf_counter()
        floor.append((t1 - t0) * 1000)
        times.append((t2 - t1) * 1000)
        status = r.status_code
    return times, floor, status


def p95(times: list[float]) -> float:
    return statistics.quantiles(times, n=20, method="inclusive")[18]


def statements(db: Database) -> tuple[Callable[[], int], Callable[[], None]]:
    """A counter of the SQL statements the app's engines send, and a function that stops counting."""
    count = [0]

    def on(*_args) -> None:
        count[0] += 1

    engines = {db.engine, db.read_engine}
    for e in engines:
        event.listen(e, "before_cursor_execute", on)

    def stop() -> None:
        for e in engines:
            event.remove(e, "before_cursor_execute", on)

    def read() -> int:
        value, count[0] = count[0], 0
        return value

    return read, stop


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=30, help="timed requests per page (default 30)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        upgrade(url)
        # development, as `make run` serves it; a cheap password hash only makes the five sign-ins quicker
        settings = Settings(
            database_url=url,
            environment="development",
            argon2_time_cost=1,
            argon2_memory_kib=64,
            argon2_parallelism=1,
        )
        db = Database.from_settings(settings)
        with db.unit_of_work() as session:
            load_demo(session, settings)
        ids = demo_ids(db)
        db.dispose()
        app = create_app(settings)
        read_count, stop_counting = statements(app.state.db)
        failed: list[str] = []
        print(
            f"pages of the web client on the demo data; {args.runs} timed requests each after {WARM_UP}, "
            f"each beside one of the floor (GET {FLOOR})"
        )
        print(f"{'role':9} {'page':58} {'median':>8} {'p95':>8} {'floor':>7} {'ratio':>6} {'SQL':>4}  target")
        try:
            with TestClient(app, raise_server_exceptions=False) as client:
                for role, urls in pages(ids).items():
                    sign_in(client, role)
                    for page in urls:
                        read_count()
                        client.get(page, follow_redirects=False)
                        sql = read_count()
                        times, floor_times, status = timed(client, page, args.runs)
                        median, floor = statistics.median(times), statistics.median(floor_times)
                        ok = status == 200 and median <= TARGET_MS
                        if not ok:
                            failed.append(f"{role} {page}")
                        verdict = ("PASS" if ok else "MISS") + ("" if status == 200 else f" (HTTP {status})")
                        print(
                            f"{role:9} {'GET ' + page:58} {median:7.1f}ms {p95(times):7.1f}ms "
                            f"{floor:6.2f}ms {median / floor:5.0f}x {sql:4d}  <= {TARGET_MS:.0f} ms {verdict}"
                        )
        finally:
            stop_counting()
            app.state.db.dispose()
        if failed:
            print(f"MISS: {len(failed)} page(s) over {TARGET_MS:.0f} ms or not 200: " + ", ".join(failed))
            return 1
        print(f"PASS: every page's median within {TARGET_MS:.0f} ms")
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
