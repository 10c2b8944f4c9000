"""Idempotency-Key on create operations: a retried POST answers as the first one did and creates nothing
twice, on both databases and across service instances."""

import io
from datetime import timedelta

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.idempotency import lock_id
from app.models import IdempotencyKey, Proposal, Submission
from app.models.base import utcnow
from tests.api.test_integrity import run_together

API = "/api/v1"
KEY = "Idempotency-Key"


def body(cycle, n=1, **overrides):
    return {
        "cycle_id": cycle["id"],
        "title": f"Retried proposal {n}",
        "capability": "Estates",
        "kind": "efficiency",
        "lead": "L",
        **overrides,
    }


def count(db, model, *where):
    with db.unit_of_work(write=False) as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def header_error(r, status):
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert [e["loc"] for e in r.json()["errors"]] == [["header", KEY]], r.text
    return r.json()


def test_a_retried_create_answers_as_the_first_and_makes_one_row(client, db, factory, admin):
    cycle = factory.cycle(admin)
    headers = {**admin.headers, KEY: "b7a1c7e0-create-1"}
    first = client.post(f"{API}/proposals", json=body(cycle), headers=headers)
    assert first.status_code == 201, first.text
    assert "Idempotent-Replayed" not in first.headers
    # The same request again (its JSON keys in another order): the first answer, nothing new.
    reordered = dict(reversed(list(body(cycle).items())))
    again = client.post(f"{API}/proposals", json=reordered, headers=headers)
    assert again.status_code == 201, again.text
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.content == first.content
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["Location"] == first.headers["Location"] == f"/api/v1/proposals/{first.json()['id']}"
    assert again.headers["ETag"] == first.headers["ETag"]
    assert count(db, Proposal, Proposal.cycle_id == cycle["id"]) == 1
    created = client.get(f"{API}/audit", params={"action": "proposal.created"}, headers=admin.headers).json()[
        "items"
    ]
    assert [e["entity_id"] for e in created] == [str(first.json()["id"])]
    # Without a key, or with a new one, a create is a create.
    assert client.post(f"{API}/proposals", json=body(cycle), headers=admin.headers).status_code == 201
    r = client.post(f"{API}/proposals", json=body(cycle), headers={**admin.headers, KEY: "another"})
    assert r.status_code == 201 and r.json()["id"] != first.json()["id"]
    assert count(db, Proposal, Proposal.cycle_id == cycle["id"]) == 3


def test_the_same_key_with_another_request_is_refused(client, db, factory, admin):
    cycle = factory.cycle(admin)
    headers = {**admin.headers, KEY: "k-1"}
    assert client.post(f"{API}/proposals", json=body(cycle), headers=headers).status_code == 201
    problem = header_error(client.post(f"{API}/proposals", json=body(cycle, 2), headers=headers), 422)
    assert "POST /api/v1/proposals" in problem["detail"]
    other_path = client.post(
        f"{API}/cycles/{cycle['id']}/submissions", json={"title": "Board paper"}, headers=headers
    )
    header_error(other_path, 422)
    assert count(db, Proposal, Proposal.cycle_id == cycle["id"]) == 1


def test_keys_belong_to_their_user(client, db, factory, admin):
    cycle = factory.cycle(admin)
    chair = factory.user("chair")
    a = client.post(f"{API}/proposals", json=body(cycle), headers={**admin.headers, KEY: "shared"})
    b = client.post(f"{API}/proposals", json=body(cycle), headers={**chair.headers, KEY: "shared"})
    assert (a.status_code, b.status_code) == (201, 201)
    assert a.json()["id"] != b.json()["id"] and "Idempotent-Replayed" not in b.headers


def test_a_failed_request_is_not_remembered(client, db, factory, admin):
    cycle = factory.cycle(admin)
    headers = {**admin.headers, KEY: "fix-and-retry"}
    bad = client.post(f"{API}/proposals", json=body(cycle, kind="nonsense"), headers=headers)
    assert bad.status_code == 422
    factory.proposal(admin, cycle, reference="TAKEN-1")
    taken = client.post(f"{API}/proposals", json=body(cycle, reference="taken-1"), headers=headers)
    assert taken.status_code == 422
    good = client.post(f"{API}/proposals", json=body(cycle), headers=headers)
    assert good.status_code == 201 and "Idempotent-Replayed" not in good.headers
    again = client.post(f"{API}/proposals", json=body(cycle), headers=headers)
    assert again.headers["Idempotent-Replayed"] == "true" and again.json()["id"] == good.json()["id"]
    assert count(db, IdempotencyKey) == 1


@pytest.mark.parametrize(
    "key, status",
    [("x" * 256, 422), ("tab\there", 422), ("bell\x07", 422), ("caf\u00e9".encode(), 422), ("x" * 255, 201)],
)
def test_keys_are_printable_ascii_of_at_most_255_characters(client, factory, admin, key, status):
    cycle = factory.cycle(admin)
    r = client.post(f"{API}/proposals", json=body(cycle), headers={**admin.headers, KEY: key})
    if status == 201:
        assert r.status_code == 201, r.text
    else:
        header_error(r, status)


def test_a_key_still_in_progress_is_a_conflict(client, database_url, db, factory, admin):
    """PostgreSQL: while another transaction works under the key, a retry is told so (409) at once."""
    if database_url.startswith("sqlite"):
        pytest.skip("SQLite lets one writer in at a time: a duplicate waits, then gets the replay")
    cycle = factory.cycle(admin)
    engine = sa.create_engine(database_url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as other, other.begin():
            other.execute(select(func.pg_advisory_xact_lock(lock_id(admin.id, "busy"))))
            r = client.post(f"{API}/proposals", json=body(cycle), headers={**admin.headers, KEY: "busy"})
            problem = header_error(r, 409)
            assert r.headers["Retry-After"] == "1" and "still being processed" in problem["detail"]
    finally:
        engine.dispose()
    r = client.post(f"{API}/proposals", json=body(cycle), headers={**admin.headers, KEY: "busy"})
    assert r.status_code == 201
    assert count(db, Proposal, Proposal.cycle_id == cycle["id"]) == 1


@pytest.mark.parametrize("instances", [1, 2])
def test_concurrent_retries_make_one_row(app, settings, db, factory, admin, instances):
    """Eight sends of one request with one key at once, on one or two service instances: one proposal;
    every answer is that proposal (first or replayed), or on PostgreSQL a 409 while it was in progress."""
    from app.main import create_app

    cycle = factory.cycle(admin)
    apps = [app] + [create_app(settings) for _ in range(instances - 1)]
    clients = [TestClient(apps[i % instances], raise_server_exceptions=False) for i in range(8)]
    headers = {**admin.headers, KEY: "parallel"}
    try:
        results = run_together(
            8, lambda i: clients[i].post(f"{API}/proposals", json=body(cycle), headers=headers)
        )
    finally:
        for extra in apps[1:]:
            extra.state.db.dispose()
    created = [r for r in results if r.status_code == 201]
    others = [r.status_code for r in results if r.status_code != 201]
    assert created and set(others) <= ({409} if settings.database_url.startswith("postgresql") else set())
    assert len({r.json()["id"] for r in created}) == 1
    assert sum("Idempotent-Replayed" not in r.headers for r in created) == 1
    assert count(db, Proposal, Proposal.cycle_id == cycle["id"]) == 1


def test_an_expired_key_is_forgotten_and_purged(client, db, factory, admin):
    cycle = factory.cycle(admin)
    headers = {**admin.headers, KEY: "yesterday"}
    first = client.post(f"{API}/proposals", json=body(cycle), headers=headers).json()
    other = client.post(f"{API}/proposals", json=body(cycle), headers={**admin.headers, KEY: "stale"})
    assert other.status_code == 201
    with db.unit_of_work() as session:
        session.execute(sa.update(IdempotencyKey).values(expires_at=utcnow() - timedelta(seconds=1)))
    r = client.post(f"{API}/proposals", json=body(cycle, 2), headers=headers)
    assert r.status_code == 201 and r.json()["id"] != first["id"] and "Idempotent-Replayed" not in r.headers
    with db.unit_of_work(write=False) as session:
        rows = session.execute(select(IdempotencyKey.key, IdempotencyKey.expires_at)).all()
    assert [k for k, _ in rows] == ["yesterday"]  # "stale" was purged on the way
    assert rows[0][1] > utcnow() + timedelta(hours=23)


def csv_file(*refs):
    lines = ["reference,title,capability,kind,lead"] + [
        f"{ref},Imported {ref},Estates,efficiency,L" for ref in refs
    ]
    return ("\n".join(lines) + "\n").encode()


def test_a_retried_import_lands_once(client, db, factory, admin):
    cycle = factory.cycle(admin)
    url = f"{API}/cycles/{cycle['id']}/proposals/import"
    headers = {**admin.headers, KEY: "import-1"}
    first = client.post(
        url, files={"file": ("p.csv", csv_file("IMP-1", "IMP-2"), "text/csv")}, headers=headers
    )
    assert first.status_code == 201, first.text
    # Each send gets a new multipart boundary; the file is what counts.
    again = client.post(
        url, files={"file": ("p.csv", io.BytesIO(csv_file("IMP-1", "IMP-2")), "text/csv")}, headers=headers
    )
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json() and first.json()["imported"] == 2
    assert count(db, Proposal, Proposal.cycle_id == cycle["id"]) == 2
    changed = client.post(
        url, files={"file": ("p.csv", csv_file("IMP-1", "IMP-3"), "text/csv")}, headers=headers
    )
    header_error(changed, 422)
    assert count(db, Proposal, Proposal.cycle_id == cycle["id"]) == 2


def test_a_retried_submission_is_issued_once(client, db, factory, admin):
    cycle = factory.scored_cycle(admin)
    r = client.post(
        f"{API}/cycles/{cycle['id']}/transition", json={"to": "moderation"}, headers=admin.headers
    )
    assert r.status_code == 200, r.text
    url = f"{API}/cycles/{cycle['id']}/submissions"
    headers = {**admin.headers, KEY: "paper-1"}
    first = client.post(url, json={"title": "Board paper"}, headers=headers)
    assert first.status_code == 201, first.text
    again = client.post(url, json={"title": "Board paper"}, headers=headers)
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["content_sha256"] == first.json()["content_sha256"]
    assert count(db, Submission, Submission.cycle_id == cycle["id"]) == 1


def test_a_retried_scoring_batch_is_saved_once(client, db, factory, admin):
    cycle = factory.cycle(admin)
    pid = factory.proposal(admin, cycle)["id"]
    scorer = factory.user("scorer")
    r = client.post(
        f"{API}/cycles/{cycle['id']}/panels",
        headers=admin.headers,
        json={"name": "Panel", "chair_id": admin.id, "member_ids": [scorer.id], "proposal_ids": [pid]},
    )
    assert r.status_code == 201, r.text
    r = client.post(f"{API}/cycles/{cycle['id']}/transition", json={"to": "scoring"}, headers=admin.headers)
    assert r.status_code == 200, r.text
    scores = [{"principle": n, "score": 4, "rationale": "Reasoned."} for n in range(1, 13)]
    batch = {"items": [{"proposal_id": pid, "scores": scores, "submit": False}]}
    headers = {**scorer.headers, KEY: "batch-1"}
    first = client.post(f"{API}/scorecards/batch", json=batch, headers=headers)
    assert first.status_code == 200, first.text
    again = client.post(f"{API}/scorecards/batch", json=batch, headers=headers)
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    own = client.get(f"{API}/proposals/{pid}/scorecard", headers=scorer.headers).json()
    assert own["version"] == first.json()["items"][0]["version"]  # saved once, not twice


def test_the_header_is_in_the_openapi_of_each_create(client):
    paths = client.get("/openapi.json").json()["paths"]
    for path in (
        "/api/v1/proposals",
        "/api/v1/cycles/{cycle_id}/proposals/import",
        "/api/v1/cycles/{cycle_id}/submissions",
        "/api/v1/scorecards/batch",
    ):
        params = {p["name"]: p for p in paths[path]["post"]["parameters"]}
        assert params[KEY]["in"] == "header" and params[KEY]["required"] is False, path
