"""Data integrity and what the logs may hold: SQL parameters never reach logs or error messages,
and an export is recorded only once its file was built."""

import logging
import threading
import time
import traceback
from contextlib import contextmanager

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.main import create_app
from app.migrate import head_revision
from app.models import Proposal

API = "/api/v1"
SECRET = "Tr0ub4dor-and-3-staples"
REFUSED_NAME = "Refused Name"


def _ddl(database_url: str, *statements: str) -> None:
    engine = sa.create_engine(database_url, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as conn:
            for statement in statements:
                conn.exec_driver_sql(statement)
    finally:
        engine.dispose()


def _make_database_refuse(database_url: str, how: str) -> None:
    """Make the database itself refuse a user called REFUSED_NAME (a rule the service does not know)."""
    if database_url.startswith("sqlite"):
        _ddl(
            database_url,
            "CREATE TRIGGER refuse_user BEFORE INSERT ON users "
            f"WHEN NEW.full_name = '{REFUSED_NAME}' BEGIN SELECT RAISE(ABORT, 'this name is refused'); END",
        )
    elif how == "trigger":
        _ddl(
            database_url,
            "CREATE FUNCTION refuse_user() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"IF NEW.full_name = '{REFUSED_NAME}' THEN RAISE EXCEPTION 'this name is refused'; END IF; "
            "RETURN NEW; END $$",
            "CREATE TRIGGER refuse_user BEFORE INSERT ON users FOR EACH ROW EXECUTE FUNCTION refuse_user()",
        )
    elif how == "check":
        # A CHECK violation's DETAIL on PostgreSQL repeats the whole failing row, password hash included.
        _ddl(
            database_url,
            f"ALTER TABLE users ADD CONSTRAINT ck_users_not_refused CHECK (full_name <> '{REFUSED_NAME}')",
        )


@pytest.mark.parametrize("how", ["nul", "trigger", "check"])
def test_failed_user_insert_logs_no_password_or_hash(app, database_url, factory, admin, caplog, how):
    if database_url.startswith("sqlite") and how != "trigger":
        pytest.skip("SQLite stores NUL characters and cannot add a CHECK to an existing table")
    _make_database_refuse(database_url, how)
    full_name = "Ann\x00Smith" if how == "nul" else REFUSED_NAME
    body = {"email": "new.user@example.org", "full_name": full_name, "password": SECRET, "roles": ["scorer"]}

    caplog.set_level(logging.DEBUG)  # every logger ...
    caplog.set_level(logging.DEBUG, logger="sqlalchemy")  # ... SQLAlchemy's too (it defaults to WARNING)
    caplog.clear()
    seen = []
    # Server errors are re-raised to the server after the 500 is sent: a real server logs them too.
    with TestClient(app, raise_server_exceptions=True) as c:
        try:
            r = c.post(f"{API}/users", json=body, headers=admin.headers)
            seen.append(r.text)
            status = r.status_code
        except Exception as exc:
            seen.append("".join(traceback.format_exception(exc)))
            status = 500
    assert status >= 400
    seen.append(caplog.text)
    seen.extend(str(record.args) for record in caplog.records)
    everything = "\n".join(seen)
    assert "INSERT INTO users" in everything or status == 422  # the capture did see the failing write
    assert SECRET not in everything
    assert "$argon2" not in everything
    r = factory.client.get(f"{API}/users", params={"q": "new.user"}, headers=admin.headers)
    assert r.json()["total"] == 0


def _exported(client, admin, action):
    r = client.get(f"{API}/audit", params={"action": action, "limit": 500}, headers=admin.headers)
    assert r.status_code == 200, r.text
    return r.json()["items"]


def _broken_writer(*args, **kwargs):
    raise OSError("No space left on device")


def test_an_export_is_recorded_only_once_its_file_was_built(client, factory, admin, monkeypatch):
    from openpyxl.workbook.workbook import Workbook

    cycle = factory.scored_cycle(admin)
    r = client.post(
        f"{API}/cycles/{cycle['id']}/transition", json={"to": "moderation"}, headers=admin.headers
    )
    assert r.status_code == 200, r.text
    r = client.post(
        f"{API}/cycles/{cycle['id']}/submissions", json={"title": "Board paper"}, headers=admin.headers
    )
    assert r.status_code == 201, r.text
    sub = r.json()
    ranking = f"{API}/cycles/{cycle['id']}/ranking?format=xlsx"
    download = f"{API}/submissions/{sub['id']}.xlsx"

    with monkeypatch.context() as m:
        m.setattr(Workbook, "save", _broken_writer)
        assert client.get(ranking, headers=admin.headers).status_code == 500
        assert client.get(download, headers=admin.headers).status_code == 500
    assert _exported(client, admin, "ranking.exported") == []
    assert _exported(client, admin, "submission.exported") == []

    r = client.get(ranking, headers=admin.headers)
    assert r.status_code == 200 and r.content[:2] == b"PK"
    r = client.get(download, headers=admin.headers)
    assert r.status_code == 200 and r.content[:2] == b"PK"
    ranked = _exported(client, admin, "ranking.exported")
    assert [(e["entity_id"], e["changes"]["format"]) for e in ranked] == [(str(cycle["id"]), "xlsx")]
    downloaded = _exported(client, admin, "submission.exported")
    assert [(e["entity_id"], e["changes"]["format"]) for e in downloaded] == [(str(sub["id"]), "xlsx")]


# --- Proposal references are unique in their cycle whatever their case, in the database itself ---


def run_together(n, fn):
    barrier = threading.Barrier(n)
    results = [None] * n

    def worker(i):
        barrier.wait()
        results[i] = fn(i)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return results


def proposal_body(cycle, reference, n=0):
    return {
        "cycle_id": cycle["id"],
        "reference": reference,
        "title": f"Racing proposal {n}",
        "capability": "Estates",
        "kind": "efficiency",
        "lead": "L",
    }


def references(db, cycle_id):
    with db.unit_of_work(write=False) as session:
        return sorted(session.scalars(select(Proposal.reference).where(Proposal.cycle_id == cycle_id)))


def assert_reference_refused(r, loc=("body", "reference")):
    assert r.status_code == 422, r.text
    errors = r.json()["errors"]
    assert [(e["loc"][: len(loc)], e["type"]) for e in errors] == [(list(loc), "unique")], errors


def test_the_database_refuses_a_reference_in_another_case(db, factory, admin):
    cycle = factory.cycle(admin)
    factory.proposal(admin, cycle, reference="RACE-1")
    with pytest.raises(sa.exc.IntegrityError), db.unit_of_work() as session:
        session.add(
            Proposal(
                cycle_id=cycle["id"],
                reference="race-1",
                title="T",
                capability="C",
                kind="efficiency",
                lead="L",
            )
        )
        session.flush()
    other = factory.cycle(admin)
    factory.proposal(admin, other, reference="race-1")  # another cycle may use it
    assert references(db, cycle["id"]) == ["RACE-1"]


@pytest.mark.parametrize("instances", [1, 2])
def test_concurrent_creates_of_one_reference_in_two_cases_make_one_row(
    app, settings, factory, admin, instances
):
    """Threads (and two service instances on one database) create RACE-1 and race-1 at once."""
    cycle = factory.cycle(admin)
    apps = [app] + [create_app(settings) for _ in range(instances - 1)]
    n = 8
    clients = [TestClient(apps[i % instances], raise_server_exceptions=False) for i in range(n)]
    try:
        results = run_together(
            n,
            lambda i: clients[i].post(
                f"{API}/proposals",
                json=proposal_body(cycle, "RACE-1" if i % 2 else "race-1", i),
                headers=admin.headers,
            ),
        )
    finally:
        for extra in apps[1:]:
            extra.state.db.dispose()
    codes = sorted(r.status_code for r in results)
    assert codes == [201] + [422] * (n - 1), [r.text for r in results]
    for r in results:
        if r.status_code == 422:
            assert_reference_refused(r)
    winner = next(r.json() for r in results if r.status_code == 201)
    assert references(app.state.db, cycle["id"]) == [winner["reference"]]


@contextmanager
def uncommitted_proposal(database_url, cycle_id, reference):
    """Another writer's proposal, inserted and not yet committed: the service's check cannot see it."""
    engine = sa.create_engine(database_url, poolclass=sa.pool.NullPool)
    session = Session(engine)
    try:
        session.add(
            Proposal(
                cycle_id=cycle_id, reference=reference, title="T", capability="C", kind="efficiency", lead="L"
            )
        )
        session.flush()
        yield session
    finally:
        session.close()
        engine.dispose()


def race_against_uncommitted(database_url, cycle_id, reference, request):
    """Send ``request`` while another transaction holds ``reference`` uncommitted; commit that one once the
    request waits for it (on PostgreSQL the request's INSERT waits on the unique index), then answer."""
    with uncommitted_proposal(database_url, cycle_id, reference) as other:
        box = {}
        thread = threading.Thread(target=lambda: box.setdefault("r", request()))
        thread.start()
        if database_url.startswith("postgresql"):
            waiting = sa.text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND query LIKE 'INSERT INTO proposals%'"
            )
            deadline = time.monotonic() + 30
            while other.connection().scalar(waiting) == 0:
                other.connection().execute(sa.text("SELECT pg_stat_clear_snapshot()"))
                assert time.monotonic() < deadline and thread.is_alive(), (
                    f"the request never waited at its INSERT: {box.get('r') and box['r'].text}"
                )
                time.sleep(0.05)
        else:
            time.sleep(0.3)  # SQLite: the request waits for the write lock at BEGIN
        other.commit()
        thread.join(60)
    return box["r"]


def test_a_create_that_loses_the_race_gets_the_reference_error(client, database_url, db, factory, admin):
    cycle = factory.cycle(admin)
    r = race_against_uncommitted(
        database_url,
        cycle["id"],
        "RACE-1",
        lambda: client.post(f"{API}/proposals", json=proposal_body(cycle, "race-1"), headers=admin.headers),
    )
    assert_reference_refused(r)
    assert r.json()["errors"][0]["msg"] == "race-1 is already used in this cycle"
    assert references(db, cycle["id"]) == ["RACE-1"]


def test_an_import_that_loses_the_race_names_the_row_and_column(client, database_url, db, factory, admin):
    cycle = factory.cycle(admin)
    csv_file = (
        "reference,title,capability,kind,lead\n"
        "OK-1,First,Estates,efficiency,L\n"
        "race-1,Second,Estates,efficiency,L\n"
    )
    r = race_against_uncommitted(
        database_url,
        cycle["id"],
        "RACE-1",
        lambda: client.post(
            f"{API}/cycles/{cycle['id']}/proposals/import",
            files={"file": ("p.csv", csv_file.encode(), "text/csv")},
            headers=admin.headers,
        ),
    )
    assert r.status_code == 422, r.text
    errors = r.json()["errors"]
    assert [(e["row"], e["column"], e["type"], e["msg"]) for e in errors] == [
        (3, "reference", "unique", "race-1 already exists in this cycle")
    ]
    assert references(db, cycle["id"]) == ["RACE-1"]  # nothing of the file landed


def test_upgrade_stops_and_lists_references_repeated_in_another_case(app, database_url, db, factory, admin):
    from alembic.util import CommandError

    from app.migrate import downgrade, upgrade

    cycle = factory.cycle(admin)
    first = factory.proposal(admin, cycle, reference="DUP-1")
    app.state.db.dispose()
    downgrade(database_url, "0006")
    engine = sa.create_engine(database_url, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO proposals (cycle_id, reference, title, capability, kind, summary, lead, "
                    "fte_change, status, version, created_at, updated_at) SELECT cycle_id, 'dup-1', title, "
                    "capability, kind, summary, lead, fte_change, status, 1, created_at, updated_at "
                    "FROM proposals WHERE id = :id"
                ),
                {"id": first["id"]},
            )
            second = conn.scalar(sa.text("SELECT max(id) FROM proposals"))
        with pytest.raises(CommandError) as refused:
            upgrade(database_url)
        message = str(refused.value)
        assert (
            f"cycle {cycle['id']}: 'DUP-1' (proposal {first['id']}), 'dup-1' (proposal {second})" in message
        )
        assert "Nothing was changed" in message
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE proposals SET reference = 'DUP-2' WHERE id = :id"), {"id": second})
        upgrade(database_url)
        with engine.connect() as conn:
            assert conn.scalar(sa.text("SELECT version_num FROM alembic_version")) == head_revision(
                database_url
            )
    finally:
        engine.dispose()
