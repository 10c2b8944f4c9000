"""The audit trail page and its CSV download on a long trail.

    .venv/bin/python bench/bench_audit.py                      # 200,000 events on SQLite
    .venv/bin/python bench/bench_audit.py --events 1000000
    .venv/bin/python bench/bench_audit.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/serr_bench

The database (a temporary SQLite file, or the empty database named, which is migrated) gets the demo data
and then ``--events`` audit events spread over a year, from ten users, across proposals, cycles and users,
with a few sign-in failures and refusals among them: written with one multi-row insert per 10,000.

An admin signs in through /login; each page is requested ``--runs`` times after a warm-up (the median is
printed): the first page, a page deep in the trail (offset 50 pages from the end), a filter by one user,
by one object, by outcome and by a date range. Then /audit.csv of the whole trail is downloaded once,
streamed, and its time, rows per second and the process's peak memory before and after are printed: the
download is written as it is read, so memory should not grow with the trail.

Target: each page's median within 300 ms at 200,000 events; the whole trail's CSV at 50,000 rows per second
of this process's CPU time or more (CPU time, because on a shared machine the wall time says more about the
neighbours). The exit status is 0 when both are met, 1 otherwise.
"""

from __future__ import annotations

import argparse
import random
import re
import resource
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import insert, select, text  # noqa: E402

from app.config import Settings  # noqa: E402
from app.demo import DEMO_DOMAIN, DEMO_PASSWORD, load_demo  # noqa: E402
from app.main import create_app  # noqa: E402
from app.migrate import upgrade  # noqa: E402
from app.models import AuditEvent, User  # noqa: E402

PAGE_TARGET_MS = 300.0
CSV_TARGET_ROWS_PER_S = 50_000
CHUNK = 10_000
ACTIONS = [
    ("proposal.updated", "proposal", None),
    ("proposal.created", "proposal", None),
    ("scorecard.submitted", "proposal", None),
    ("cycle.updated", "cycle", None),
    ("auth.web_login", "user", "success"),
    ("auth.login_failed", "user", "failure"),
    ("auth.denied", "route", "denied"),
]


def fill(app, n: int) -> tuple[int, datetime]:
    """``n`` events over the year before now; the id of one user and the start of the year."""
    rng = random.Random(7)
    start = datetime.now(UTC) - timedelta(days=365)
    with app.state.db.unit_of_work() as s:
        users = list(s.scalars(select(User.id)))
    for done in range(0, n, CHUNK):
        rows = []
        for i in range(done, min(n, done + CHUNK)):
            action, kind, outcome = ACTIONS[rng.randrange(len(ACTIONS))]
            rows.append(
                {
                    "occurred_at": start + timedelta(seconds=i * 365 * 86400 / n),
                    "actor_id": None if outcome == "failure" else rng.choice(users),
                    "action": action,
                    "entity_type": kind,
                    "entity_id": "GET /admin" if kind == "route" else str(rng.randrange(1, 400)),
                    "changes": {"title": {"before": f"Title {i}", "after": f"Title {i + 1}"}},
                    "request_id": f"{i:032x}",
                    "client_address": f"10.0.{i % 250}.{i % 199}",
                    "outcome": outcome,
                }
            )
        with app.state.db.unit_of_work() as s:
            s.execute(insert(AuditEvent), rows)
    if app.state.db.engine.dialect.name == "postgresql":  # the planner's statistics, as autovacuum would
        with app.state.db.engine.connect() as conn:
            conn.execute(text("ANALYZE audit_events"))
            conn.commit()
    return users[0], start


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()

    tmp = tempfile.TemporaryDirectory()
    url = args.database_url or f"sqlite:///{tmp.name}/bench.db"
    upgrade(url)
    settings = Settings(
        environment="development",
        database_url=url,
        argon2_time_cost=1,
        argon2_memory_kib=64,
        argon2_parallelism=1,
    )
    app = create_app(settings)
    with app.state.db.unit_of_work() as s:
        load_demo(s, settings)
    t0 = time.perf_counter()
    user_id, start = fill(app, args.events)
    written = time.perf_counter() - t0
    print(f"{args.events:,} events written in {written:.1f} s ({app.state.db.engine.dialect.name})")

    ok = True
    with TestClient(app) as c:
        form = c.get("/login").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
        r = c.post(
            "/login",
            data={
                "email": f"admin@{DEMO_DOMAIN}",
                "password": DEMO_PASSWORD,
                "csrf_token": token,
                "next": "/",
            },
            follow_redirects=False,
        )
        assert r.status_code == 303, r.status_code
        last_page = max(1, (args.events + 49) // 50 - 50)
        month = (start + timedelta(days=100)).date()
        pages = {
            "first page": "/audit",
            f"page {last_page:,}": f"/audit?page={last_page}",
            "one user": f"/audit?actor_id={user_id}",
            "one object": "/audit?entity_type=proposal&entity_id=17",
            "failures": "/audit?outcome=failure",
            "a month": f"/audit?from={month.isoformat()}&to={(month + timedelta(days=30)).isoformat()}",
        }
        print(f"{'page':<16} {'median ms':>10} {'p95 ms':>8}  shown")
        for name, address in pages.items():
            for _ in range(2):
                c.get(address)
            times = []
            for _ in range(args.runs):
                t = time.perf_counter()
                r = c.get(address)
                times.append((time.perf_counter() - t) * 1000)
                assert r.status_code == 200, (address, r.status_code)
            shown = re.search(r"Showing ([^<]+)", r.text)
            median = statistics.median(times)
            p95 = sorted(times)[max(0, int(len(times) * 0.95) - 1)]
            ok &= median <= PAGE_TARGET_MS
            print(f"{name:<16} {median:>10.1f} {p95:>8.1f}  {shown.group(1) if shown else '-'}")

        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        t, cpu = time.perf_counter(), time.process_time()
        rows = size = 0
        with c.stream("GET", "/audit.csv") as r:
            assert r.status_code == 200
            for piece in r.iter_bytes():
                rows += piece.count(b"\r\n")
                size += len(piece)
        seconds, cpu = time.perf_counter() - t, time.process_time() - cpu
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        rate, cpu_rate = (rows - 1) / seconds, (rows - 1) / cpu
        ok &= cpu_rate >= CSV_TARGET_ROWS_PER_S
        print(
            f"CSV of the whole trail: {rows - 1:,} rows, {size / 1e6:.1f} MB in {seconds:.1f} s "
            f"({rate:,.0f} rows/s; {cpu_rate:,.0f} rows per CPU second); the process's peak memory "
            f"{before / 1024:.0f} MB before, {after / 1024:.0f} MB after"
        )
    app.state.db.dispose()
    tmp.cleanup()
    print("targets met" if ok else "a target was missed")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
