"""Data integrity and what the logs may hold: SQL parameters never reach logs or error messages,
and an export is recorded only once its file was built."""

import logging
import traceback

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

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


def scored_cycle(client, factory, admin, proposals=1):
    """A cycle in scoring whose proposals were scored by a panel of two (its quorum)."""
    cycle = factory.cycle(admin)
    ids = [factory.proposal(admin, cycle)["id"] for _ in range(proposals)]
    scorers = [factory.user("scorer"), factory.user("scorer")]
    r = client.post(
        f"{API}/cycles/{cycle['id']}/panels",
        headers=admin.headers,
        json={"name": "Panel", "chair_id": admin.id, "member_ids": [s.id for s in scorers], "proposal_ids": ids},
    )
    assert r.status_code == 201, r.text
    r = client.post(f"{API}/cycles/{cycle['id']}/transition", json={"to": "scoring"}, headers=admin.headers)
    assert r.status_code == 200, r.text
    card = [{"principle": n, "score": 3, "rationale": "Panel reasoning."} for n in range(1, 13)]
    for scorer in scorers:
        for pid in ids:
            r = client.put(
                f"{API}/proposals/{pid}/scorecard", headers=scorer.headers, json={"scores": card, "submit": True}
            )
            assert r.status_code == 200, r.text
    return {**cycle, "proposal_ids": ids, "scorers": scorers}


def _exported(client, admin, action):
    r = client.get(f"{API}/audit", params={"action": action, "limit": 500}, headers=admin.headers)
    assert r.status_code == 200, r.text
    return r.json()["items"]


def _broken_writer(*args, **kwargs):
    raise OSError("No space left on device")


def test_an_export_is_recorded_only_once_its_file_was_built(client, factory, admin, monkeypatch):
    from openpyxl.workbook.workbook import Workbook

    cycle = scored_cycle(client, factory, admin)
    r = client.post(f"{API}/cycles/{cycle['id']}/transition", json={"to": "moderation"}, headers=admin.headers)
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
