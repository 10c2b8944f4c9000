"""Test databases: every API test runs on SQLite and on PostgreSQL, each test on a fresh database
built by the Alembic migrations (a copy of a migrated template), so tests are isolated and real
transactions, locks and commits happen exactly as in production."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from app.config import Settings
from app.db import Database
from app.main import create_app
from app.migrate import upgrade

PG_ADMIN_URL = os.environ.get(
    "SERR_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
IN_CI = os.environ.get("CI", "").lower() == "true"
# One template per test process, so that several runs can share one server.
PG_TEMPLATE = f"serr_test_template_{os.getpid()}"


def _pg_url(dbname: str) -> str:
    return sa.engine.make_url(PG_ADMIN_URL).set(database=dbname).render_as_string(hide_password=False)


def _pg_admin_engine() -> sa.Engine:
    return sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("db") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """A migrated PostgreSQL template database; skipped (or failed in CI) when no server answers."""
    engine = _pg_admin_engine()
    try:
        with engine.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {PG_TEMPLATE} WITH (FORCE)"))
            conn.execute(sa.text(f"CREATE DATABASE {PG_TEMPLATE}"))
    except sa.exc.OperationalError as exc:
        message = (
            f"PostgreSQL not reachable at {PG_ADMIN_URL} ({type(exc.orig).__name__}); "
            "set SERR_TEST_POSTGRES_URL to run the PostgreSQL half of the suite"
        )
        if IN_CI:
            pytest.fail(message + " — CI must run it.")
        pytest.skip(message)
    finally:
        engine.dispose()
    upgrade(_pg_url(PG_TEMPLATE))
    yield PG_TEMPLATE
    engine = _pg_admin_engine()
    with engine.connect() as conn:
        conn.execute(sa.text(f"DROP DATABASE IF EXISTS {PG_TEMPLATE} WITH (FORCE)"))
    engine.dispose()


@contextmanager
def fresh_database(request, kind: str, directory: Path) -> Iterator[str]:
    """A new database of ``kind`` copied from the migrated template (a file in ``directory`` for SQLite),
    dropped afterwards."""
    if kind == "sqlite":
        path = directory / "serr.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    template = request.getfixturevalue("pg_template")
    name = f"serr_test_{uuid.uuid4().hex[:12]}"
    engine = _pg_admin_engine()
    with engine.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name} TEMPLATE {template}"))
    try:
        yield _pg_url(name)
    finally:
        with engine.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path) -> Iterator[str]:
    with fresh_database(request, request.param, tmp_path) as url:
        yield url


def make_settings(database_url: str, **overrides) -> Settings:
    values = dict(
        environment="test",
        database_url=database_url,
        secret_key="test-secret-key-that-is-long-enough-0123456789",
        argon2_time_cost=1,
        argon2_memory_kib=64,
        argon2_parallelism=1,
        sqlite_busy_timeout_ms=20_000,
    )
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def settings(database_url) -> Settings:
    return make_settings(database_url)


@pytest.fixture
def app(settings):
    application = create_app(settings)
    yield application
    application.state.db.dispose()


@pytest.fixture
def client(app) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def db(app) -> Database:
    return app.state.db


@dataclass
class Actor:
    id: int
    email: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


class Factory:
    """Test data with keyword overrides, written through the service layer (so it is audited too)."""

    def __init__(self, db: Database, settings: Settings, client: TestClient):
        self.db, self.settings, self.client = db, settings, client
        self._n = 0
        self._cycles = 0

    def _next(self) -> int:
        self._n += 1
        return self._n

    def _next_cycle(self) -> int:
        self._cycles += 1
        return self._cycles

    def user(self, *roles: str, email: str | None = None, password: str = "correct-horse-battery") -> Actor:
        from datetime import timedelta

        from app.users.schemas import UserCreate
        from app.users.service import _issue, create_user

        n = self._next()
        email = email or f"user{n}-{'-'.join(roles) or 'none'}@example.org"
        with self.db.unit_of_work() as session:
            user = create_user(
                session,
                self.settings,
                None,
                UserCreate(
                    email=email, full_name=f"User {n}", password=password, roles=list(roles) or ["scorer"]
                ),
            )
            _, token = _issue(session, self.settings, user, "access", "test", timedelta(hours=1))
        return Actor(user.id, email, token)

    def cycle(self, actor: Actor, *, status: str = "open", **overrides) -> dict:
        body = {
            "name": f"SR{self._next_cycle():02d} SE&RR",
            "financial_years": ["2022-23", "2023-24", "2024-25"],
            "budgets": {"2022-23": "1000000.00", "2023-24": "900000.00", "2024-25": "800000.00"},
        }
        body.update(overrides)
        r = self.client.post("/api/v1/cycles", json=body, headers=actor.headers)
        assert r.status_code == 201, r.text
        cycle = r.json()
        for step in ("open", "scoring", "moderation", "closed"):
            if cycle["status"] == status:
                break
            r = self.client.post(
                f"/api/v1/cycles/{cycle['id']}/transition", json={"to": step}, headers=actor.headers
            )
            assert r.status_code == 200, r.text
            cycle = r.json()
        return cycle

    def proposal(self, actor: Actor, cycle: dict, **overrides) -> dict:
        n = self._next()
        body = {
            "cycle_id": cycle["id"],
            "title": f"Proposal number {n}",
            "capability": "Digital Exploitation",
            "kind": "investment",
            "summary": "A summary.",
            "lead": "DCI Example",
            "financials": [{"year": cycle["financial_years"][0], "cost": "100000.00", "saving": "25000.50"}],
            "self_assessment": {"7": "Digitises the triage."},
        }
        body.update(overrides)
        r = self.client.post("/api/v1/proposals", json=body, headers=actor.headers)
        assert r.status_code == 201, r.text
        return r.json()

    def submit_scorecard(self, scorer: Actor, proposal_id: int, score: int, rationale: str = "R.") -> dict:
        """``scorer`` submits ``score`` on all twelve principles of the proposal."""
        r = self.client.put(
            f"/api/v1/proposals/{proposal_id}/scorecard",
            headers=scorer.headers,
            json={
                "scores": [{"principle": p, "score": score, "rationale": rationale} for p in range(1, 13)],
                "submit": True,
            },
        )
        assert r.status_code == 200, r.text
        return r.json()

    def scored_cycle(self, admin: Actor, proposals: int = 1, **cycle_overrides) -> dict:
        """A cycle in scoring whose proposals were scored (3 on every principle) by a panel of two, its
        quorum; the answer is the cycle with ``proposal_ids`` and ``scorers``."""
        cycle = self.cycle(admin, **cycle_overrides)
        ids = [self.proposal(admin, cycle)["id"] for _ in range(proposals)]
        scorers = [self.user("scorer"), self.user("scorer")]
        r = self.client.post(
            f"/api/v1/cycles/{cycle['id']}/panels",
            headers=admin.headers,
            json={
                "name": "Panel",
                "chair_id": admin.id,
                "member_ids": [s.id for s in scorers],
                "proposal_ids": ids,
            },
        )
        assert r.status_code == 201, r.text
        r = self.client.post(
            f"/api/v1/cycles/{cycle['id']}/transition", json={"to": "scoring"}, headers=admin.headers
        )
        assert r.status_code == 200, r.text
        card = [{"principle": n, "score": 3, "rationale": "Panel reasoning."} for n in range(1, 13)]
        for scorer in scorers:
            for pid in ids:
                r = self.client.put(
                    f"/api/v1/proposals/{pid}/scorecard",
                    headers=scorer.headers,
                    json={"scores": card, "submit": True},
                )
                assert r.status_code == 200, r.text
        return {**cycle, "proposal_ids": ids, "scorers": scorers}


@pytest.fixture
def factory(db, settings, client) -> Factory:
    return Factory(db, settings, client)


@pytest.fixture
def admin(factory) -> Actor:
    return factory.user("admin")


def pytest_terminal_summary(terminalreporter):
    """Figures a test records with ``record_property("summary", text)`` (the fuzzed API contract's counts),
    printed at the end of the run: under pytest-xdist a worker's own output never reaches the terminal."""
    reports = terminalreporter.stats.get("passed", []) + terminalreporter.stats.get("failed", [])
    lines = [value for r in reports for name, value in getattr(r, "user_properties", []) if name == "summary"]
    if lines:
        terminalreporter.write_sep("-", "recorded summaries")
        for text in lines:
            terminalreporter.write_line(text)
