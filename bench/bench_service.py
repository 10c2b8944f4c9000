"""The service at network scale, over real HTTP, each figure beside a floor measured in the same run.

    .venv/bin/python bench/bench_service.py                      # everything (SQLite, and PostgreSQL if up)
    .venv/bin/python bench/bench_service.py --sizes 2000 --only ranking,csv --db sqlite

A review cycle of 2,000 proposals x 25 scorers x 12 principles (five panels of five scorers, so each
proposal has five submitted scorecards: 120,000 answers; three financial years whose budgets fund about
half of the net cost) is built through the service's own code (``app/*/service.py``, in-process, in big
transactions), on a temporary SQLite file and, when PostgreSQL answers at 127.0.0.1:5432, on a scratch
database there (created and dropped by the bench). The service is then served by uvicorn exactly as
``serr serve`` runs it (one worker, ``SERR_ENVIRONMENT=production``) and every figure is timed over HTTP.

Every figure is the median of three calls after one warm-up call that is discarded, and is printed beside
its floor, written here and measured in the same run on the same database:

* ranking JSON, all pages, CSV, XLSX: one SQL statement (GROUP BY) computing the same per-proposal means
  and weighted sum, then nothing more / ``csv.writer`` / an openpyxl write-only workbook of the same rows
  and columns;
* sensitivity: a numpy matrix product and argsort of the same shapes (proposals x 12 scores, samples x 12
  weights);
* selection and its frontier: the bare integer programme (``scipy.optimize.milp``) on the same scores, net
  costs and budgets, solved to optimality;
* web ``/ranking``: the JSON ranking figure of the same run;
* scoring writes: a minimal FastAPI app (below, ``floor_app``) doing one INSERT per request, under the same
  uvicorn with the same database settings, at 1 and 16 concurrent clients (requests per second and p99);
* the batch endpoint: milliseconds per scorecard against an absolute target (a direct Core insert of the
  same rows is shown for information).

Also printed: the JSON ranking and CSV at 250, 1,000, 2,000 and 4,000 proposals (the ratio to the floor
should not grow with the cycle; on SQLite unless ``--growth-db`` says otherwise), and the SQL statements
each main endpoint sends (counted in-process with SQLAlchemy's ``before_cursor_execute`` on the app's
engines). PostgreSQL gets ``ANALYZE`` after the build, as autovacuum would run on a live database.

Options select a quicker, partial run: ``--sizes``, ``--only``, ``--db``, ``--no-growth``,
``--no-postgres`` (``--help`` lists them). Every server the bench starts is stopped when it ends, and a
failed request stops the bench with its status and body.

The exit status is 0 when every row passes, 1 otherwise (and 2 when the bench itself fails).
"""

from __future__ import annotations

import argparse
import csv
import io
import itertools
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from pydantic import BaseModel  # noqa: E402

K = 12
SCORERS = 25
PANEL_SIZE = 5
YEARS = ["2025-26", "2026-27", "2027-28"]
KINDS = ("investment", "efficiency", "reinvestment")
CAPABILITIES = (
    "Digital Exploitation",
    "Surveillance",
    "Intelligence",
    "Investigations",
    "Borders",
    "Estates",
    "People",
    "Data and Analysis",
)
WRITE_PROPOSALS = 400  # the second cycle, where the write figures are measured
BATCH_SIZE = 100  # scorecards per batch request
PG_ADMIN_URL = os.environ.get(
    "SERR_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
PASSWORD = "bench-password-not-secret"
HTTP_TIMEOUT = httpx.Timeout(600.0, connect=10.0)
ALL_ROWS = (
    "ranking",
    "pages",
    "csv",
    "xlsx",
    "sensitivity",
    "selection",
    "frontier",
    "web",
    "put",
    "batch",
    "queries",
)
GROWTH_ROWS = ("ranking", "csv")
GROWTH_LINES = ("ranking", "ranking, new seed", "csv")


class BenchError(RuntimeError):
    pass


def log(message: str) -> None:
    print(f"  .. {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------------------
# The cycle, built through the service's own code


@dataclass
class Built:
    url: str
    n: int
    cycle_id: int
    write_cycle_id: int
    other_weighting_id: int
    admin_id: int
    admin_email: str
    admin_token: str
    scorer_tokens: list[str]  # index i: scorer i (the panels are consecutive groups of five)
    write_proposal_ids: list[int]
    seconds: float


def _bench_settings(url: str, secret: str):
    from app.config import Settings

    # Cheap password hashes for the build only: the server verifies with the parameters in each hash.
    return Settings(
        database_url=url,
        environment="test",
        secret_key=secret,
        argon2_time_cost=1,
        argon2_memory_kib=64,
        argon2_parallelism=1,
    )


def _financials(rng: np.random.Generator, n: int) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Kinds, per-year cost and saving in whole pounds (n x years), shaped like the demo cycle."""
    kinds = [KINDS[i] for i in rng.choice(3, n, p=[0.5, 0.35, 0.15])]
    cost = np.zeros((n, len(YEARS)), dtype=np.int64)
    saving = np.zeros((n, len(YEARS)), dtype=np.int64)
    for i, kind in enumerate(kinds):
        if kind == "investment":
            cost[i] = rng.integers(300, 4500, 3) * 1000
            saving[i] = [0, rng.integers(0, 600) * 1000, rng.integers(100, 1200) * 1000]
        elif kind == "efficiency":
            cost[i] = [
                rng.integers(100, 1500) * 1000,
                rng.integers(0, 500) * 1000,
                rng.integers(0, 300) * 1000,
            ]
            saving[i] = [
                rng.integers(0, 800) * 1000,
                rng.integers(400, 2500) * 1000,
                rng.integers(600, 3200) * 1000,
            ]
        else:
            cost[i] = rng.integers(500, 2500, 3) * 1000
            saving[i] = rng.integers(200, 1500, 3) * 1000
    return kinds, cost, saving


def build(url: str, n: int, secret: str, seed: int = 2026, writes: bool = True) -> Built:
    """Users, the scored cycle of ``n`` proposals and (``writes``) a cycle in scoring for the writes."""
    from app.cycles.schemas import CycleCreate, Transition
    from app.cycles.service import create_cycle, transition
    from app.db import Database
    from app.migrate import upgrade
    from app.models import CycleStatus, User
    from app.panels.schemas import PanelCreate
    from app.panels.service import create_panel
    from app.proposals.schemas import ProposalCreate
    from app.proposals.service import create_proposal
    from app.scorecards.schemas import Answer, BatchItem
    from app.scorecards.service import save_batch
    from app.users.schemas import UserCreate
    from app.users.service import _issue, create_user
    from app.weightings.schemas import WeightingCreate
    from app.weightings.service import create_weighting

    started = time.perf_counter()
    settings = _bench_settings(url, secret)
    upgrade(url)
    db = Database.from_settings(settings)
    rng = np.random.default_rng(seed + n)
    try:
        with db.unit_of_work() as session:
            admin = create_user(
                session,
                settings,
                None,
                UserCreate(
                    email="admin@bench.example.org",
                    full_name="Bench Admin",
                    password=PASSWORD,
                    roles=["admin"],
                ),
            )
            scorers = [
                create_user(
                    session,
                    settings,
                    admin,
                    UserCreate(
                        email=f"scorer{i + 1}@bench.example.org",
                        full_name=f"Bench Scorer {i + 1}",
                        password=PASSWORD,
                        roles=["scorer"],
                    ),
                )
                for i in range(SCORERS)
            ]
            admin_token = _issue(session, settings, admin, "personal", "bench", timedelta(days=1))[1]
            scorer_tokens = [
                _issue(session, settings, s, "personal", "bench", timedelta(days=1))[1] for s in scorers
            ]
            admin_id, scorer_ids = admin.id, [s.id for s in scorers]

        def new_cycle(session, admin, name: str, count: int, kinds, cost, saving):
            net = np.maximum(cost - saving, 0).sum(axis=0)
            budgets = {y: Decimal(int(net[j]) // 2) for j, y in enumerate(YEARS)}  # funds about half
            cycle = create_cycle(
                session, admin, CycleCreate(name=name, financial_years=YEARS, budgets=budgets)
            )
            transition(session, admin, cycle, Transition(to=CycleStatus.open, reason="Bench"))
            ids = []
            for i in range(count):
                proposal = create_proposal(
                    session,
                    admin,
                    ProposalCreate(
                        cycle_id=cycle.id,
                        reference=f"{'BW' if count == WRITE_PROPOSALS else 'B'}-{i + 1:05d}",
                        title=f"Proposal {i + 1}: a national service for case {int(rng.integers(10**6))}",
                        capability=CAPABILITIES[i % len(CAPABILITIES)],
                        kind=kinds[i],
                        summary="A proposal generated for the benchmark.",
                        lead="DCI Bench",
                        financials=[
                            {
                                "year": y,
                                "cost": Decimal(int(cost[i, j])),
                                "saving": Decimal(int(saving[i, j])),
                            }
                            for j, y in enumerate(YEARS)
                        ],
                    ),
                    cycle=cycle,
                )
                ids.append(proposal.id)
            return cycle, ids

        kinds, cost, saving = _financials(rng, n)
        with db.unit_of_work() as session:
            admin = session.get(User, admin_id)
            cycle, ids = new_cycle(session, admin, f"Bench cycle of {n}", n, kinds, cost, saving)
            cycle_id = cycle.id
            panels = SCORERS // PANEL_SIZE
            for p in range(panels):
                create_panel(
                    session,
                    admin,
                    cycle_id,
                    PanelCreate(
                        name=f"Panel {p + 1}",
                        member_ids=scorer_ids[p * PANEL_SIZE : (p + 1) * PANEL_SIZE],
                        proposal_ids=ids[p::panels],
                    ),
                )
            transition(session, admin, cycle, Transition(to=CycleStatus.scoring, reason="Bench"))
            other = create_weighting(
                session,
                admin,
                cycle_id,
                WeightingCreate(
                    name="Digital first",
                    method="points",
                    weights={str(k + 1): int(w) for k, w in enumerate(rng.integers(1, 20, K))},
                ),
            )
            other_weighting_id = other.id
        log(f"{n} proposals created ({time.perf_counter() - started:.1f} s)")

        # Scores: a latent quality per proposal, the principles it suits, a lenient or severe scorer.
        quality = rng.beta(2.0, 2.0, n)
        relevance = rng.uniform(-1.0, 1.0, (n, K))
        lenient = rng.normal(0.0, 0.4, SCORERS)
        panels = SCORERS // PANEL_SIZE
        for s in range(SCORERS):
            mine = list(range(s // PANEL_SIZE, n, panels))
            raw = (
                5 * quality[mine, None] + relevance[mine] + lenient[s] + rng.normal(0.0, 0.7, (len(mine), K))
            )
            scores = np.clip(np.rint(raw), 0, 5).astype(int)
            na = rng.random(scores.shape) < 0.02
            items = [
                BatchItem(
                    proposal_id=ids[i],
                    submit=True,
                    scores=[
                        Answer(principle=k + 1, not_applicable=True, rationale="Not for this proposal.")
                        if na[r, k]
                        else Answer(principle=k + 1, score=int(scores[r, k]), rationale="Reasoned.")
                        for k in range(K)
                    ],
                )
                for r, i in enumerate(mine)
            ]
            for start in range(0, len(items), 500):
                with db.unit_of_work() as session:
                    save_batch(session, session.get(User, scorer_ids[s]), items[start : start + 500])
        log(f"{n * PANEL_SIZE} scorecards submitted ({time.perf_counter() - started:.1f} s)")

        write_cycle_id, wids = 0, []
        if writes:
            wkinds, wcost, wsaving = _financials(rng, WRITE_PROPOSALS)
            with db.unit_of_work() as session:
                admin = session.get(User, admin_id)
                wcycle, wids = new_cycle(
                    session, admin, "Bench writes", WRITE_PROPOSALS, wkinds, wcost, wsaving
                )
                create_panel(
                    session,
                    admin,
                    wcycle.id,
                    PanelCreate(name="Writes panel", member_ids=scorer_ids, proposal_ids=wids),
                )
                transition(session, admin, wcycle, Transition(to=CycleStatus.scoring, reason="Bench"))
                write_cycle_id = wcycle.id
        if db.engine.dialect.name == "postgresql":
            # Planner statistics, as autovacuum would gather them on a live database after a bulk load.
            with db.engine.connect() as conn:
                conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE")
    finally:
        db.dispose()
    seconds = time.perf_counter() - started
    log(f"built in {seconds:.1f} s")
    return Built(
        url=url,
        n=n,
        cycle_id=cycle_id,
        write_cycle_id=write_cycle_id,
        other_weighting_id=other_weighting_id,
        admin_id=admin_id,
        admin_email="admin@bench.example.org",
        admin_token=admin_token,
        scorer_tokens=scorer_tokens,
        write_proposal_ids=wids,
        seconds=seconds,
    )


# --------------------------------------------------------------------------------------------------------
# Databases


@contextmanager
def sqlite_database() -> Iterator[str]:
    tmp = tempfile.mkdtemp(prefix="serr-bench-")
    try:
        yield f"sqlite:///{tmp}/bench.db"
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def postgres_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=2):
            pass
        engine = sa.create_engine(
            PG_ADMIN_URL, poolclass=sa.pool.NullPool, connect_args={"connect_timeout": 3}
        )
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        engine.dispose()
        return True
    except Exception:  # noqa: BLE001 - any failure means "not available"
        return False


@contextmanager
def postgres_database(tag: str) -> Iterator[str]:
    name = f"serr_bench_{os.getpid()}_{tag}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    try:
        yield sa.engine.make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


# --------------------------------------------------------------------------------------------------------
# Servers: the service as ``serr serve`` runs it, and the one-INSERT floor app, under the same uvicorn


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


FLOOR_TABLE = "bench_floor_inserts"


class FloorRow(BaseModel):
    scorer: int
    proposal: int
    principle: int
    score: int


def floor_app():
    """The write floor: a minimal FastAPI app doing one INSERT per request, on the service's own engine
    settings (``app.db.Database``: SQLite WAL, synchronous=NORMAL, BEGIN IMMEDIATE; the same PostgreSQL)."""
    from fastapi import FastAPI

    from app.config import Settings
    from app.db import Database

    db = Database.from_settings(Settings(database_url=os.environ["SERR_DATABASE_URL"], environment="test"))
    table = sa.table(
        FLOOR_TABLE, sa.column("scorer"), sa.column("proposal"), sa.column("principle"), sa.column("score")
    )
    app = FastAPI()

    @app.get("/healthz")
    def healthz() -> dict:
        return {"status": "ok"}

    @app.post("/rows", status_code=201)
    def insert(row: FloorRow) -> dict:
        with db.engine.begin() as conn:
            conn.execute(sa.insert(table).values(**row.model_dump()))
        return {"ok": True}

    return app


def create_floor_table(url: str) -> None:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    identity = "" if url.startswith("sqlite") else "GENERATED BY DEFAULT AS IDENTITY"
    with engine.begin() as conn:
        conn.execute(sa.text(f"DROP TABLE IF EXISTS {FLOOR_TABLE}"))
        conn.execute(
            sa.text(
                f"CREATE TABLE {FLOOR_TABLE} (id INTEGER PRIMARY KEY {identity},"
                " scorer INTEGER NOT NULL, proposal INTEGER NOT NULL, principle INTEGER NOT NULL,"
                " score INTEGER NOT NULL)"
            )
        )
    engine.dispose()


class Server:
    """A uvicorn process on a free port; always stopped (``with``), its log kept for errors."""

    def __init__(self, kind: str, url: str, secret: str):
        self.kind, self.url, self.secret = kind, url, secret
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed in __exit__
            prefix=f"serr-bench-{kind}-", suffix=".log", delete=False
        )

    def __enter__(self) -> Server:
        env = dict(os.environ)
        env.update(
            SERR_DATABASE_URL=self.url,
            SERR_ENVIRONMENT="production",
            SERR_SECRET_KEY=self.secret,
            # Production cookies are Secure; the bench talks plain HTTP to 127.0.0.1.
            SERR_COOKIE_SECURE="false",
        )
        if self.kind == "service":  # exactly `serr serve` (one worker, proxy headers, log level info)
            cmd = [str(ROOT / ".venv/bin/serr"), "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        else:  # the floor app under the same uvicorn settings
            cmd = [
                sys.executable, "-m", "uvicorn", "bench_service:floor_app", "--factory",
                "--app-dir", str(BENCH_DIR), "--host", "127.0.0.1", "--port", str(self.port),
                "--workers", "1", "--proxy-headers", "--log-level", "info",
            ]  # fmt: skip
        if not Path(cmd[0]).exists():
            cmd[0:1] = [sys.executable, "-m", "app.cli"]
        self.proc = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(f"the {self.kind} server exited at start:\n{self.tail()}")
            try:
                if httpx.get(self.base + "/healthz", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise BenchError(f"the {self.kind} server did not answer within 60 s:\n{self.tail()}")

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(Path(self.log.name).read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=15)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                with suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        self.proc = None

    def __exit__(self, *exc) -> None:
        self.stop()
        self.log.close()
        Path(self.log.name).unlink(missing_ok=True)


def checked(response: httpx.Response, what: str) -> httpx.Response:
    if response.status_code >= 400:
        body = response.text[:2000]
        raise BenchError(
            f"{what}: HTTP {response.status_code} {response.request.method} {response.request.url}\n{body}"
        )
    return response


# --------------------------------------------------------------------------------------------------------
# Timing


def median_of_3(fn: Callable[[], object]) -> float:
    """Median seconds of three calls after a warm-up call that is discarded."""
    fn()
    times = []
    for _ in range(3):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def load(
    base: str, clients: int, seconds: float, request: Callable[[httpx.Client, int, int], httpx.Response]
) -> tuple[float, float]:
    """Requests per second and p99 latency of ``clients`` threads, each sending a fixed number of
    requests: about ``seconds`` worth at the rate of a short warm-up run. Median of three runs."""

    def run(per_client: int, offset: int) -> tuple[float, float]:
        latencies: list[float] = []
        errors: list[str] = []
        lock = threading.Lock()
        barrier = threading.Barrier(clients + 1)

        def worker(c: int) -> None:
            mine = []
            with httpx.Client(base_url=base, timeout=HTTP_TIMEOUT) as client:
                client.get("/healthz")  # open the connection
                barrier.wait()
                for i in range(per_client):
                    t = time.perf_counter()
                    try:
                        r = request(client, c, offset + i)
                        if r.status_code >= 400:
                            errors.append(
                                f"HTTP {r.status_code} {r.request.method} {r.request.url}\n{r.text[:1000]}"
                            )
                            break
                    except httpx.HTTPError as exc:
                        errors.append(f"{type(exc).__name__}: {exc}")
                        break
                    mine.append(time.perf_counter() - t)
            with lock:
                latencies.extend(mine)

        threads = [threading.Thread(target=worker, args=(c,), daemon=True) for c in range(clients)]
        for t in threads:
            t.start()
        barrier.wait()
        t0 = time.perf_counter()
        for t in threads:
            t.join(timeout=600)
        elapsed = time.perf_counter() - t0
        if errors:
            raise BenchError("a write request failed: " + errors[0])
        if len(latencies) != clients * per_client:
            raise BenchError("a client did not finish within 600 s")
        return len(latencies) / elapsed, float(np.percentile(latencies, 99))

    rate, _ = run(max(3, 20 // clients), 0)  # warm-up, discarded; it sets the number of requests
    per_client = int(min(max(rate * seconds / clients, 10), 5000))
    runs = [run(per_client, (r + 1) * 100_000) for r in range(3)]
    return statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)


# --------------------------------------------------------------------------------------------------------
# The floors, written here


def floor_sql(dialect: str) -> str:
    """One statement: the mean of every principle of every proposal over its submitted scorecards (one
    GROUP BY), the weighted sum of those means, the count of scorecards and the money totals, ordered by
    the weighted sum. (Of the forms tried, grouping by proposal and principle first was the fastest.)"""
    weights = " UNION ALL ".join(f"SELECT {k} AS k, :w{k} AS w" for k in range(1, K + 1))
    pivot = ", ".join(f"MAX(CASE WHEN m.k = {k} THEN m.mean END) AS p{k}" for k in range(1, K + 1))
    return f"""
WITH m AS (
  SELECT sc.proposal_id AS pid, a.principle_number AS k, AVG(a.score) AS mean, COUNT(*) AS cards
  FROM proposals p
  JOIN scorecards sc ON sc.proposal_id = p.id
  JOIN scorecard_answers a ON a.scorecard_id = sc.id
  WHERE p.cycle_id = :cycle AND sc.status = 'submitted'
  GROUP BY sc.proposal_id, a.principle_number
), w AS ({weights}
), s AS (
  SELECT m.pid, SUM(w.w * COALESCE(m.mean, 0)) AS weighted, {pivot}, MAX(m.cards) AS cards
  FROM m JOIN w ON w.k = m.k
  GROUP BY m.pid
), f AS (
  SELECT pf.proposal_id AS pid, SUM(pf.cost) / 100.0 AS cost, SUM(pf.saving) / 100.0 AS saving
  FROM proposal_financials pf JOIN proposals p ON p.id = pf.proposal_id
  WHERE p.cycle_id = :cycle
  GROUP BY pf.proposal_id
)
SELECT p.id, p.reference, p.title, p.capability, p.kind, s.weighted,
  {", ".join(f"s.p{k}" for k in range(1, K + 1))}, s.cards, f.cost, f.saving, f.cost - f.saving AS net
FROM proposals p
LEFT JOIN s ON s.pid = p.id
LEFT JOIN f ON f.pid = p.id
WHERE p.cycle_id = :cycle AND p.status = 'submitted'
ORDER BY s.weighted DESC NULLS LAST, p.id
"""


class Floors:
    """The floors of one database, measured in the same run as the figures."""

    def __init__(self, url: str, cycle_id: int, weights: dict[str, float]):
        self.engine = sa.create_engine(url)  # pooled, as the service's engines are
        total = sum(weights.values()) or 1.0
        self.params = {"cycle": cycle_id} | {
            f"w{k}": weights.get(str(k), 0.0) / total for k in range(1, K + 1)
        }
        self.sql = sa.text(floor_sql(self.engine.dialect.name))
        self.cycle_id = cycle_id

    def rows(self) -> list[tuple]:
        with self.engine.connect() as conn:
            return [tuple(r) for r in conn.execute(self.sql, self.params)]

    @staticmethod
    def _table(rows: list[tuple]) -> Iterator[tuple]:
        """The export's 33 columns from the statement's 23: rank, the plain figures, and the derived
        coverage, quorum and walk columns (interval and probability columns empty)."""
        for i, r in enumerate(rows):
            cards = r[18] or 0
            net = r[21]
            per_m = (r[5] / float(net) * 1e6) if net else None
            yield (
                i + 1, r[1], r[2], r[3], r[4], r[5], *r[6:18], cards, None, cards / PANEL_SIZE,
                cards == PANEL_SIZE, r[19], r[20], net, per_m, f"{cards} of {PANEL_SIZE} submitted",
                cards < 3, 3, None, None, None, None, None,
            )  # fmt: skip

    def csv(self) -> bytes:
        from app.rankings.exports import COLUMNS

        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\r\n")
        w.writerow([title for _, title in COLUMNS])
        w.writerows(self._table(self.rows()))
        return buf.getvalue().encode("utf-8-sig")

    def xlsx(self) -> bytes:
        from openpyxl import Workbook

        from app.rankings.exports import COLUMNS

        wb = Workbook(write_only=True)
        ws = wb.create_sheet("Ranking")
        ws.append([title for _, title in COLUMNS])
        for row in self._table(self.rows()):
            ws.append([float(v) if isinstance(v, Decimal) else v for v in row])
        buf = io.BytesIO()
        wb.save(buf)
        return buf.getvalue()

    def selection_inputs(self, scores: dict[int, float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The service's own weighted scores of the ranked proposals (``scores``, by id), their net cost
        by year and the budgets, in pence, as the selection solves them."""
        with self.engine.connect() as conn:
            money = conn.execute(
                sa.text(
                    "SELECT pf.proposal_id, pf.year, pf.cost - pf.saving FROM proposal_financials pf "
                    "JOIN proposals p ON p.id = pf.proposal_id WHERE p.cycle_id = :c"
                ),
                {"c": self.cycle_id},
            ).all()
            budgets = conn.execute(
                sa.text("SELECT year, budget FROM cycle_years WHERE cycle_id = :c ORDER BY position"),
                {"c": self.cycle_id},
            ).all()
        ids = sorted(scores)
        where = {pid: i for i, pid in enumerate(ids)}
        years = {y: j for j, (y, _) in enumerate(budgets)}
        net = np.zeros((len(ids), len(years)))
        for pid, year, value in money:
            if pid in where:
                net[where[pid], years[year]] = int(value)  # pence, as stored
        b = np.array([int(v) for _, v in budgets], dtype=float)
        return np.array([float(scores[i]) for i in ids]), net, b

    def milp(self, inputs) -> None:
        from scipy.optimize import Bounds, LinearConstraint, milp

        scores, net, budgets = inputs
        res = milp(
            -scores,
            constraints=LinearConstraint(net.T, -np.inf, budgets),
            integrality=np.ones(scores.size),
            bounds=Bounds(0, 1),
            options={"mip_rel_gap": 0.0, "time_limit": 300.0},
        )
        if res.status != 0:
            raise BenchError(f"the floor MILP did not reach optimality: {res.message}")

    @staticmethod
    def matmul_argsort(scores: np.ndarray, samples: int) -> None:
        rng = np.random.default_rng(1)
        draws = rng.dirichlet(np.full(K, 100.0 / K), samples)
        for start in range(0, samples, 2000):  # in blocks: the same arithmetic in bounded memory
            np.argsort(draws[start : start + 2000] @ scores.T, axis=1)

    def dispose(self) -> None:
        self.engine.dispose()


# --------------------------------------------------------------------------------------------------------
# Rows


@dataclass
class Row:
    db: str
    name: str
    figure: str
    floor: str
    ratio: str
    target: str
    ok: bool | None  # None: for information

    @property
    def verdict(self) -> str:
        return "" if self.ok is None else ("PASS" if self.ok else "FAIL")


@dataclass
class Results:
    rows: list[Row] = field(default_factory=list)
    # db, size, what, figure, floor
    growth: list[tuple[str, int, str, float, float]] = field(default_factory=list)
    queries: dict[str, list[tuple[str, int, int]]] = field(default_factory=dict)
    builds: list[tuple[str, int, float]] = field(default_factory=list)

    def ratio_row(self, db, name, figure, floor, target: float | None, unit="s") -> None:
        """A row with its ratio to the floor; ``target`` None: for information."""
        ratio = figure / floor if floor > 0 else float("inf")
        self.rows.append(
            Row(
                db,
                name,
                f"{figure:.3f} {unit}",
                f"{floor:.3f} {unit}",
                f"{ratio:.2f}x",
                "(information)" if target is None else f"<= {target}x",
                None if target is None else ratio <= target,
            )
        )


def ms(x: float) -> str:
    return f"{x * 1000:.0f} ms"


def measure(args, built: Built, server: Server, results: Results, db: str, main: bool) -> None:
    """Every selected row on one served database."""
    only = set(args.only)
    headers = {"Authorization": f"Bearer {built.admin_token}"}
    api = f"/api/v1/cycles/{built.cycle_id}"
    client = httpx.Client(base_url=server.base, headers=headers, timeout=HTTP_TIMEOUT)
    try:
        first = checked(client.get(f"{api}/ranking"), "ranking").json()
        floors = Floors(built.url, built.cycle_id, first["weighting"]["weights"])
        try:
            if floors.rows()[0][0] is None:
                raise BenchError("the floor statement returned nothing")
            need_ranking = bool(only & {"ranking", "pages", "web"})
            ranking = floor = None
            if need_ranking:
                ranking = median_of_3(lambda: checked(client.get(f"{api}/ranking"), "ranking"))
                floor = median_of_3(floors.rows)
                if "ranking" in only:
                    if main:
                        results.ratio_row(
                            db, f"GET ranking JSON, {built.n:,} proposals, warm", ranking, floor, 2.0
                        )
                    results.growth.append((db, built.n, "ranking", ranking, floor))
                    # Nothing cached: a seed not asked for before (the rank intervals' resampling) on
                    # every call, so the ranking is computed from the database each time.
                    seeds = itertools.count(1_000_000)
                    fresh = median_of_3(
                        lambda: checked(client.get(f"{api}/ranking", params={"seed": next(seeds)}), "ranking")
                    )
                    if main:
                        results.ratio_row(
                            db, "GET ranking JSON, uncached (new seed a call)", fresh, floor, None
                        )
                    results.growth.append((db, built.n, "ranking, new seed", fresh, floor))
            if not main:
                if "csv" in only:
                    fig = median_of_3(
                        lambda: checked(client.get(f"{api}/ranking", params={"format": "csv"}), "csv")
                    )
                    results.growth.append((db, built.n, "csv", fig, median_of_3(floors.csv)))
                return
            if "pages" in only:

                def pages() -> None:
                    for offset in range(0, built.n, 500):
                        checked(client.get(f"{api}/ranking", params={"limit": 500, "offset": offset}), "page")

                results.ratio_row(db, f"all {built.n:,} items, pages of 500", median_of_3(pages), floor, 2.5)
            if "csv" in only:
                fig = median_of_3(
                    lambda: checked(client.get(f"{api}/ranking", params={"format": "csv"}), "csv")
                )
                fl = median_of_3(floors.csv)
                results.ratio_row(db, f"CSV, {built.n:,} rows", fig, fl, 2.0)
                results.growth.append((db, built.n, "csv", fig, fl))
            if "xlsx" in only:
                fig = median_of_3(
                    lambda: checked(client.get(f"{api}/ranking", params={"format": "xlsx"}), "xlsx")
                )
                results.ratio_row(db, f"XLSX, {built.n:,} rows", fig, median_of_3(floors.xlsx), 1.5)
            if "sensitivity" in only:
                samples = 20_000
                fig = median_of_3(
                    lambda: checked(
                        client.get(f"{api}/ranking/sensitivity", params={"samples": samples}), "sensitivity"
                    )
                )
                scores = np.array(
                    [[float(r[6 + k] or 0.0) for k in range(K)] for r in floors.rows() if (r[18] or 0) >= 3]
                )
                fl = median_of_3(lambda: floors.matmul_argsort(scores, samples))
                results.ratio_row(db, f"sensitivity, {samples:,} samples, defaults", fig, fl, 3.0)
            if only & {"selection", "frontier"}:
                ranked = {
                    it["proposal_id"]: float(it["weighted_score"])
                    for it in all_items(client, api, built.n)
                    if it["rank"] is not None
                }
                inputs = floors.selection_inputs(ranked)
                fl = median_of_3(lambda: floors.milp(inputs))
                if "selection" in only:
                    fig = median_of_3(lambda: checked(client.post(f"{api}/selection", json={}), "selection"))
                    results.ratio_row(db, "selection, 3 years, defaults", fig, fl, 1.3)
                if "frontier" in only:
                    fig = median_of_3(
                        lambda: checked(client.post(f"{api}/selection", json={"frontier": True}), "frontier")
                    )
                    results.ratio_row(db, "selection with the frontier", fig, fl, 4.0)
            if "web" in only:
                web = web_client(server.base, built)
                try:
                    fig = median_of_3(
                        lambda: checked(web.get("/ranking", params={"cycle_id": built.cycle_id}), "web")
                    )
                finally:
                    web.close()
                results.ratio_row(db, f"web /ranking, {built.n:,} proposals", fig, ranking, 2.0)
            if "put" in only:
                measure_writes(args, built, server, results, db)
            if "batch" in only:
                measure_batch(built, server, results, db)
        finally:
            floors.dispose()
    finally:
        client.close()


def all_items(client: httpx.Client, api: str, n: int) -> list[dict]:
    items: list[dict] = []
    for offset in range(0, n, 500):
        page = checked(client.get(f"{api}/ranking", params={"limit": 500, "offset": offset}), "ranking")
        items += page.json()["items"]
    return items


def web_client(base: str, built: Built) -> httpx.Client:
    web = httpx.Client(base_url=base, timeout=HTTP_TIMEOUT, follow_redirects=False)
    page = checked(web.get("/login"), "web login page")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    if token is None:
        raise BenchError("the login page has no csrf_token field")
    r = web.post(
        "/login",
        data={"email": built.admin_email, "password": PASSWORD, "csrf_token": token.group(1), "next": "/"},
    )
    if r.status_code not in (302, 303):
        raise BenchError(f"web sign-in: HTTP {r.status_code}\n{r.text[:1000]}")
    return web


def card(round_: int, seed: int) -> list[dict]:
    return [
        {"principle": k, "score": (seed + k + round_) % 6, "rationale": "Reasoned."} for k in range(1, K + 1)
    ]


def measure_writes(args, built: Built, server: Server, results: Results, db: str) -> None:
    """PUT scorecard (drafts of all twelve principles, round robin over the write cycle's proposals, one
    scorer per client) beside the one-INSERT floor app, at 1 and 16 clients."""
    pids = built.write_proposal_ids
    tokens = built.scorer_tokens

    def put(client: httpx.Client, c: int, i: int) -> httpx.Response:
        pid = pids[(i * 7 + c) % len(pids)]
        return client.put(
            f"/api/v1/proposals/{pid}/scorecard",
            json={"scores": card(i, c), "submit": False},
            headers={"Authorization": f"Bearer {tokens[c]}"},
        )

    def insert(client: httpx.Client, c: int, i: int) -> httpx.Response:
        return client.post("/rows", json={"scorer": c, "proposal": i, "principle": 1 + i % K, "score": i % 6})

    figures = {c: load(server.base, c, args.write_seconds, put) for c in (1, 16)}
    create_floor_table(built.url)
    with Server("floor", built.url, server.secret) as floor_server:
        floors = {c: load(floor_server.base, c, args.write_seconds, insert) for c in (1, 16)}
    for c in (1, 16):
        (rate, p99), (frate, fp99) = figures[c], floors[c]
        ratio = rate / frate
        if c == 1:
            ok = ratio >= 0.3
            target = ">= 0.3"
        else:
            ok = ratio >= 0.25 and p99 <= 5 * fp99
            target = ">= 0.25, p99 <= 5x"
        results.rows.append(
            Row(
                db,
                f"PUT scorecard, {c} client{'s' if c > 1 else ''}",
                f"{rate:.0f} req/s, p99 {ms(p99)}",
                f"{frate:.0f} req/s, p99 {ms(fp99)}",
                f"{ratio:.2f} (p99 {p99 / fp99:.1f}x)",
                target,
                ok,
            )
        )


def measure_batch(built: Built, server: Server, results: Results, db: str) -> None:
    """POST /scorecards/batch of 100 new submitted scorecards by the last scorer (not one of the PUT
    clients), four times over fresh proposals; the first is discarded."""
    token = built.scorer_tokens[-1]
    pids = built.write_proposal_ids
    per_card = []
    with httpx.Client(base_url=server.base, timeout=HTTP_TIMEOUT) as client:
        for r in range(4):
            items = [
                {"proposal_id": pid, "scores": card(r, j), "submit": True}
                for j, pid in enumerate(pids[r * BATCH_SIZE : (r + 1) * BATCH_SIZE])
            ]
            if len(items) < BATCH_SIZE:
                raise BenchError("the write cycle has too few proposals for the batch figure")
            t = time.perf_counter()
            checked(
                client.post(
                    "/api/v1/scorecards/batch",
                    json={"items": items},
                    headers={"Authorization": f"Bearer {token}"},
                ),
                "batch",
            )
            per_card.append((time.perf_counter() - t) / BATCH_SIZE)
    figure = statistics.median(per_card[1:])
    direct = direct_insert_per_card(built.url)
    results.rows.append(
        Row(
            db,
            f"scorecard batch endpoint ({BATCH_SIZE} a request)",
            f"{figure * 1000:.2f} ms/card",
            f"{direct * 1000:.2f} ms/card",
            f"{figure / direct:.1f}x",
            "<= 2 ms/card",
            figure <= 0.002,
        )
    )


def direct_insert_per_card(url: str) -> float:
    """For information: a Core insert of 100 scorecards and their 1,200 answers in one transaction, in a
    scratch copy of the two tables (the floor of any batch save)."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as conn:
            for t in ("bench_answers", "bench_cards"):
                conn.execute(sa.text(f"DROP TABLE IF EXISTS {t}"))
            conn.execute(
                sa.text(
                    "CREATE TABLE bench_cards (id INTEGER PRIMARY KEY, proposal_id INTEGER NOT NULL, "
                    "scorer_id INTEGER NOT NULL, status VARCHAR(20), version INTEGER, "
                    "UNIQUE (proposal_id, scorer_id))"
                )
            )
            conn.execute(
                sa.text(
                    "CREATE TABLE bench_answers (scorecard_id INTEGER REFERENCES bench_cards(id), "
                    "principle INTEGER, score INTEGER, rationale TEXT, PRIMARY KEY (scorecard_id, principle))"
                )
            )
        times = []
        for r in range(4):
            cards = [
                {"id": r * 1000 + i + 1, "p": i, "s": r, "st": "submitted", "v": 1} for i in range(BATCH_SIZE)
            ]
            answers = [
                {"c": c["id"], "k": k, "x": k % 6, "t": "Reasoned."} for c in cards for k in range(1, K + 1)
            ]
            t = time.perf_counter()
            with engine.begin() as conn:
                conn.execute(sa.text("INSERT INTO bench_cards VALUES (:id, :p, :s, :st, :v)"), cards)
                conn.execute(sa.text("INSERT INTO bench_answers VALUES (:c, :k, :x, :t)"), answers)
            times.append((time.perf_counter() - t) / BATCH_SIZE)
        with engine.begin() as conn:
            for t in ("bench_answers", "bench_cards"):
                conn.execute(sa.text(f"DROP TABLE {t}"))
        return statistics.median(times[1:])
    finally:
        engine.dispose()


# --------------------------------------------------------------------------------------------------------
# Statements per request, in-process


def count_queries(built: Built, secret: str) -> list[tuple[str, int, int]]:
    """SQL statements each main endpoint sends (first call, second call), on the app's own engines."""
    from fastapi.testclient import TestClient
    from sqlalchemy import event

    from app.main import create_app

    settings = _bench_settings(built.url, secret)
    app = create_app(settings)
    db = app.state.db
    seen = {"n": 0, "on": False}

    def on(conn, cursor, statement, parameters, context, executemany):
        if seen["on"]:
            seen["n"] += 1

    engines = {db.engine, db.read_engine}
    for e in engines:
        event.listen(e, "before_cursor_execute", on)
    api = f"/api/v1/cycles/{built.cycle_id}"
    admin = {"Authorization": f"Bearer {built.admin_token}"}
    scorer = {"Authorization": f"Bearer {built.scorer_tokens[-2]}"}
    wp = built.write_proposal_ids
    out = []
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
            r = client.post(
                "/login",
                data={"email": built.admin_email, "password": PASSWORD, "csrf_token": token, "next": "/"},
                follow_redirects=False,
            )
            if r.status_code not in (302, 303):
                raise BenchError(f"in-process web sign-in: HTTP {r.status_code}")
            calls = [
                ("GET ranking JSON", lambda i: client.get(f"{api}/ranking", headers=admin)),
                (
                    "GET ranking page 2",
                    lambda i: client.get(f"{api}/ranking?limit=500&offset=500", headers=admin),
                ),
                ("GET ranking CSV", lambda i: client.get(f"{api}/ranking?format=csv", headers=admin)),
                ("GET ranking XLSX", lambda i: client.get(f"{api}/ranking?format=xlsx", headers=admin)),
                (
                    "GET ranking/compare",
                    lambda i: client.get(
                        f"{api}/ranking/compare",
                        params={"a": built.other_weighting_id, "b": built.other_weighting_id},
                        headers=admin,
                    ),
                ),
                (
                    "GET sensitivity (200 samples)",
                    lambda i: client.get(f"{api}/ranking/sensitivity?samples=200", headers=admin),
                ),
                ("POST selection", lambda i: client.post(f"{api}/selection", json={}, headers=admin)),
                ("web /ranking", lambda i: client.get(f"/ranking?cycle_id={built.cycle_id}")),
                (
                    "PUT scorecard",
                    lambda i: client.put(
                        f"/api/v1/proposals/{wp[-1]}/scorecard",
                        json={"scores": card(i, 0), "submit": False},
                        headers=scorer,
                    ),
                ),
                (
                    "POST scorecards/batch (10 cards)",
                    lambda i: client.post(
                        "/api/v1/scorecards/batch",
                        json={
                            "items": [
                                {"proposal_id": p, "scores": card(i, 1)}
                                for p in wp[-12 - 10 * i : -2 - 10 * i]
                            ]
                        },
                        headers=scorer,
                    ),
                ),
            ]
            for name, call in calls:
                counts = []
                for i in range(2):
                    seen["n"], seen["on"] = 0, True
                    try:
                        r = call(i)
                    finally:
                        seen["on"] = False
                    if r.status_code >= 400:
                        raise BenchError(f"{name} (in-process): HTTP {r.status_code}\n{r.text[:1000]}")
                    counts.append(seen["n"])
                out.append((name, counts[0], counts[1]))
    finally:
        for e in engines:
            event.remove(e, "before_cursor_execute", on)
        db.dispose()
    return out


# --------------------------------------------------------------------------------------------------------
# Driver


def run_database(args, kind: str, results: Results) -> None:
    sizes = sorted(set(args.sizes)) if kind in args.growth_db else [args.main_size]
    for n in sizes:
        main = n == args.main_size
        only = set(args.only) if main else set(args.only) & set(GROWTH_ROWS)
        if not only:
            continue
        secret = secrets.token_urlsafe(40)
        context = sqlite_database() if kind == "sqlite" else postgres_database(str(n))
        log(f"{kind}: building {n:,} proposals")
        with context as url:
            built = build(url, n, secret, writes=bool(only & {"put", "batch", "queries"}))
            results.builds.append((kind, n, built.seconds))
            served = only - {"queries"}
            if served:
                with Server("service", url, secret) as server:
                    try:
                        measure(args, built, server, results, kind, main)
                    except BenchError:
                        print(f"-- last lines of the {kind} server log:\n{server.tail()}", file=sys.stderr)
                        raise
            if main and "queries" in only:
                results.queries[kind] = count_queries(built, secret)


def print_results(args, results: Results) -> None:
    print()
    print(
        f"Service benchmark, {os.cpu_count()} cores; {SCORERS} scorers, {K} principles, "
        f"{PANEL_SIZE} scorecards a proposal"
    )
    for kind, n, seconds in results.builds:
        print(f"  built {n:>5,} proposals on {kind:<10} in {seconds:6.1f} s (through app/*/service.py)")
    if results.rows:
        print()
        head = ("db", "figure", "value", "floor", "ratio", "target", "")
        widths = (10, 46, 26, 26, 18, 20, 4)
        print("  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)))
        print("  ".join("-" * w for w in widths))
        for r in results.rows:
            cells = (r.db, r.name, r.figure, r.floor, r.ratio, r.target, r.verdict)
            print("  ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip())
    if len({n for _, n, *_ in results.growth}) > 1:
        print()
        print("Growth (medians of 3, warm): figure / floor, ratio")
        kinds = sorted({g[0] for g in results.growth})
        for kind in kinds:
            for what in GROWTH_LINES:
                line = [g for g in results.growth if g[0] == kind and g[2] == what]
                if not line:
                    continue
                cells = "   ".join(
                    f"{n:>5,}: {f:.3f}/{fl:.3f} s {f / fl:5.2f}x"
                    for _, n, _, f, fl in sorted(line, key=lambda g: g[1])
                )
                print(f"  {kind:<10} {what:<17} {cells}")
    for kind, counts in results.queries.items():
        print()
        print(f"SQL statements per request ({kind}, {args.main_size:,} proposals; first call, second call)")
        for name, a, b in counts:
            print(f"  {name:<36} {a:>4} {b:>4}")
    failed = [r for r in results.rows if r.ok is False]
    print()
    print(
        f"{sum(r.ok is True for r in results.rows)} of "
        f"{sum(r.ok is not None for r in results.rows)} rows pass"
        + ("; FAIL: " + ", ".join(f"{r.db} {r.name}" for r in failed) if failed else "")
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", default="250,1000,2000,4000", help="cycle sizes (the growth); default %(default)s"
    )
    parser.add_argument("--main-size", type=int, default=2000, help="the size at which every row is measured")
    parser.add_argument(
        "--only", default=",".join(ALL_ROWS), help=f"rows, comma-separated, of: {','.join(ALL_ROWS)}"
    )
    parser.add_argument("--db", default="sqlite,postgresql", help="sqlite, postgresql or both (default)")
    parser.add_argument("--no-growth", action="store_true", help="only the main size")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument(
        "--growth-db",
        default="sqlite",
        help="databases on which the growth sizes are built (default %(default)s; the other databases are "
        "measured at the main size only): sqlite, postgresql or both",
    )
    parser.add_argument(
        "--write-seconds", type=float, default=2.0, help="about how long each write run lasts"
    )
    args = parser.parse_args()
    args.sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    if args.no_growth:
        args.sizes = [args.main_size]
    if args.main_size not in args.sizes and len(args.sizes) == 1:
        args.main_size = args.sizes[0]
    args.only = [s.strip() for s in args.only.split(",") if s.strip()]
    args.growth_db = {s.strip() for s in args.growth_db.split(",") if s.strip()}
    unknown = set(args.only) - set(ALL_ROWS)
    if unknown:
        parser.error(f"unknown rows: {', '.join(sorted(unknown))}")
    kinds = [k.strip() for k in args.db.split(",") if k.strip()]
    if args.no_postgres:
        kinds = [k for k in kinds if k != "postgresql"]
    if "postgresql" in kinds and not postgres_answers():
        print(f"PostgreSQL does not answer at {PG_ADMIN_URL}: SQLite only.", file=sys.stderr)
        kinds.remove("postgresql")
    # A terminated bench still stops its servers and drops its scratch database (the ``with`` blocks run).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    results = Results()
    try:
        for kind in kinds:
            run_database(args, kind, results)
    except BenchError as exc:
        print_results(args, results)
        print(f"\nbench failed: {exc}", file=sys.stderr)
        return 2
    except Exception:  # noqa: BLE001 - print what was measured, then the error
        print_results(args, results)
        traceback.print_exc()
        return 2
    print_results(args, results)
    return 0 if all(r.ok is not False for r in results.rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
