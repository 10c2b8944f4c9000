"""Reads cost the same number of SQL statements whatever the size of the cycle, and a cached ranking is never
stale: every kind of write shows in the very next ranking, whichever instance or code path made it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from app.models import PanelProposal, Proposal, ProposalFinancial, Scorecard, ScorecardAnswer
from app.rankings import cache
from tests.api.test_web_sessions import sign_in

API = "/api/v1"


class Statements:
    """Counts the SQL statements the app sends, on every engine it uses."""

    def __init__(self, db):
        self.engines = {db.engine, db.read_engine}
        self.count = 0

    def _seen(self, *_args) -> None:
        self.count += 1

    def __enter__(self) -> Statements:
        for engine in self.engines:
            event.listen(engine, "before_cursor_execute", self._seen)
        return self

    def __exit__(self, *exc) -> None:
        for engine in self.engines:
            event.remove(engine, "before_cursor_execute", self._seen)


def add_scored_proposals(db, cycle: dict, panel_id: int, scorer_ids: list[int], n: int) -> None:
    """``n`` more submitted proposals on the panel, each scored and submitted by ``scorer_ids``, written
    straight into the tables (as fast as possible; the triggers see these writes like any other)."""
    now = datetime.now(UTC)
    with db.engine.begin() as conn:
        first = conn.scalar(sa.select(sa.func.coalesce(sa.func.max(Proposal.id), 0))) + 1
        ids = list(range(first, first + n))
        conn.execute(
            sa.insert(Proposal),
            [
                dict(
                    id=pid,
                    cycle_id=cycle["id"],
                    reference=f"BULK-{pid}",
                    title=f"Bulk proposal {pid}",
                    capability="Estates",
                    kind="efficiency",
                    summary="",
                    lead="L",
                    fte_change=0,
                    status="submitted",
                    version=1,
                    created_at=now,
                    updated_at=now,
                )
                for pid in ids
            ],
        )
        conn.execute(
            sa.insert(ProposalFinancial.__table__),
            [
                dict(proposal_id=pid, year=cycle["financial_years"][0], cost=1_000_000 + pid, saving=0)
                for pid in ids
            ],
        )
        conn.execute(
            sa.insert(PanelProposal),
            [dict(panel_id=panel_id, proposal_id=pid, cycle_id=cycle["id"]) for pid in ids],
        )
        conn.execute(
            sa.insert(Scorecard),
            [
                dict(
                    proposal_id=pid,
                    scorer_id=sid,
                    status="submitted",
                    submitted_at=now,
                    version=1,
                    created_at=now,
                    updated_at=now,
                )
                for pid in ids
                for sid in scorer_ids
            ],
        )
        cards = conn.execute(
            sa.select(Scorecard.id, Scorecard.proposal_id).where(Scorecard.proposal_id.in_(ids))
        )
        conn.execute(
            sa.insert(ScorecardAnswer),
            [
                dict(
                    scorecard_id=card,
                    principle_number=p,
                    score=(pid + p) % 6,
                    not_applicable=False,
                    rationale="",
                    updated_at=now,
                )
                for card, pid in cards
                for p in range(1, 13)
            ],
        )


def test_statements_per_request_do_not_grow_with_the_cycle(app, client, db, factory, admin):
    cycle = factory.scored_cycle(admin, proposals=5)
    cid, ids, scorers = cycle["id"], cycle["proposal_ids"], cycle["scorers"]
    panel_id = client.get(f"{API}/cycles/{cid}/panels", headers=admin.headers).json()["items"][0]["id"]
    wids = [
        w["id"] for w in client.get(f"{API}/cycles/{cid}/weightings", headers=admin.headers).json()["items"]
    ]
    r = client.post(
        f"{API}/cycles/{cid}/weightings",
        headers=admin.headers,
        json={"name": "Second", "method": "direct", "weights": {str(p): 1 + p % 3 for p in range(1, 13)}},
    )
    assert r.status_code == 201, r.text
    wids.append(r.json()["id"])
    web = app and client  # the web pages need a signed-in browser: the same client, with a cookie
    assert sign_in(web, admin.email).status_code == 303
    card = [{"principle": p, "score": 2, "rationale": "Changed."} for p in range(1, 13)]
    # a proposal with a draft scorecard, to save again and again
    draft = factory.proposal(admin, cycle)["id"]
    r = client.get(f"{API}/cycles/{cid}/panels/{panel_id}", headers=admin.headers)
    r = client.patch(
        f"{API}/cycles/{cid}/panels/{panel_id}",
        headers={**admin.headers, "If-Match": r.headers["ETag"]},
        json={"proposal_ids": [*ids, draft]},
    )
    assert r.status_code == 200, r.text

    reads = {
        "ranking JSON": lambda: client.get(f"{API}/cycles/{cid}/ranking", headers=admin.headers),
        "ranking page 2": lambda: client.get(
            f"{API}/cycles/{cid}/ranking", params={"limit": 3, "offset": 3}, headers=admin.headers
        ),
        "ranking CSV": lambda: client.get(
            f"{API}/cycles/{cid}/ranking", params={"format": "csv"}, headers=admin.headers
        ),
        "compare": lambda: client.get(
            f"{API}/cycles/{cid}/ranking/compare", params={"a": wids[0], "b": wids[1]}, headers=admin.headers
        ),
        "web ranking page": lambda: client.get("/ranking", params={"cycle_id": cid}),
        "scorecard GET": lambda: client.get(f"{API}/proposals/{draft}/scorecard", headers=scorers[0].headers),
        "scorecard PUT": lambda: client.put(
            f"{API}/proposals/{draft}/scorecard", headers=scorers[0].headers, json={"scores": card}
        ),
        "proposal list": lambda: client.get(
            f"{API}/proposals", params={"cycle_id": cid}, headers=admin.headers
        ),
    }

    def counts(cold: bool) -> dict[str, int]:
        """Statements per request, warm (cached ranking) or cold; the least of two tries, so that a
        once-a-minute write (a token's last use) is not counted."""
        out = {}
        for name, call in reads.items():
            call()  # the first call may compute, or touch the token
            tries = []
            for _ in range(2):
                if cold:
                    cache.clear()
                with Statements(db) as seen:
                    r = call()
                assert r.status_code == 200, (name, r.text[:300])
                tries.append(seen.count)
            out[name] = min(tries)
        return out

    # the draft exists before anything is counted (reading a scorecard not yet saved is another path)
    assert reads["scorecard PUT"]().status_code == 200
    small_cold, small_warm = counts(cold=True), counts(cold=False)
    add_scored_proposals(db, cycle, panel_id, [s.id for s in scorers], 60)
    large_cold, large_warm = counts(cold=True), counts(cold=False)
    assert large_cold == small_cold, (small_cold, large_cold)
    assert large_warm == small_warm, (small_warm, large_warm)
    # a warm ranking read is the request's own reads and one of the cycle's revision, nothing else
    assert small_warm["ranking JSON"] < small_cold["ranking JSON"]
    total = client.get(f"{API}/cycles/{cid}/ranking", params={"limit": 1}, headers=admin.headers).json()[
        "total"
    ]
    assert total == 5 + 60 + 1


@pytest.fixture
def scored(client, factory, admin):
    cycle = factory.scored_cycle(admin, proposals=3)
    panel = client.get(f"{API}/cycles/{cycle['id']}/panels", headers=admin.headers).json()["items"][0]
    return {**cycle, "panel_id": panel["id"]}


def test_every_kind_of_write_shows_in_the_next_ranking(client, factory, admin, scored, settings):
    cid, ids, (s1, s2) = scored["id"], scored["proposal_ids"], scored["scorers"]
    extra = factory.user("scorer")
    h = admin.headers

    def served(aggregation: str) -> bytes:
        r = client.get(
            f"{API}/cycles/{cid}/ranking", params={"aggregation": aggregation, "resamples": 0}, headers=h
        )
        assert r.status_code == 200, r.text
        return r.content

    def step(what: str, write, *, changes: bool = True, aggregation: str = "mean") -> None:
        before = served(aggregation)  # cached now
        r = write()
        assert r.status_code in (200, 201), (what, r.status_code, r.text[:300])
        now = served(aggregation)
        cache.clear()
        assert now == served(aggregation), f"stale ranking after: {what}"
        if changes:
            assert now != before, f"the ranking should show: {what}"

    def etag(path: str) -> dict[str, str]:
        return {**h, "If-Match": client.get(f"{API}{path}", headers=h).headers["ETag"]}

    card = f"{API}/proposals/{ids[0]}/scorecard"
    scorecards = client.get(f"{API}/proposals/{ids[0]}/scorecards", headers=h).json()["items"]
    s1_card = next(c["id"] for c in scorecards if c["scorer_id"] == s1.id)
    step(
        "scorecard reopened",
        lambda: client.post(
            f"{API}/proposals/{ids[0]}/scorecards/{s1_card}/reopen", headers=h, json={"reason": "Redo."}
        ),
    )
    fives = [{"principle": p, "score": 5, "rationale": "Better."} for p in range(1, 13)]
    step(
        "draft saved (not counted: the same ranking, still not stale)",
        lambda: client.put(card, headers=s1.headers, json={"scores": fives}),
        changes=False,
    )
    step(
        "scorecard submitted and locked",
        lambda: client.put(card, headers=s1.headers, json={"scores": fives, "submit": True}),
    )
    step(
        "moderated score",
        lambda: client.put(
            f"{API}/proposals/{ids[1]}/moderation",
            headers=h,
            json={"scores": [{"principle": 1, "score": 0, "note": "Agreed lower."}]},
        ),
        aggregation="moderated",
    )
    step(
        "proposal edited",
        lambda: client.patch(
            f"{API}/proposals/{ids[2]}", headers=etag(f"/proposals/{ids[2]}"), json={"title": "Renamed"}
        ),
    )
    year = scored["financial_years"][0]
    step(
        "proposal money",
        lambda: client.patch(
            f"{API}/proposals/{ids[2]}",
            headers=etag(f"/proposals/{ids[2]}"),
            json={"financials": [{"year": year, "cost": "123456.78", "saving": "0.00"}]},
        ),
    )
    drafted = {}

    def draft():
        r = client.post(
            f"{API}/proposals",
            headers=h,
            json={
                "cycle_id": cid,
                "title": "Late entry",
                "capability": "Estates",
                "kind": "efficiency",
                "lead": "L",
                "status": "draft",
            },
        )
        drafted["id"] = r.json().get("id")
        return r

    step("draft proposal (not ranked: the same ranking)", draft, changes=False)
    step(
        "proposal submitted",
        lambda: client.patch(
            f"{API}/proposals/{drafted['id']}",
            headers=etag(f"/proposals/{drafted['id']}"),
            json={"status": "submitted"},
        ),
    )
    panel = f"/cycles/{cid}/panels/{scored['panel_id']}"
    step(
        "panel membership",
        lambda: client.patch(
            f"{API}{panel}", headers=etag(panel), json={"member_ids": [s1.id, s2.id, extra.id]}
        ),
    )
    step(
        "conflict of interest",
        lambda: client.post(
            f"{API}/proposals/{ids[0]}/conflicts",
            headers=h,
            json={"user_id": s2.id, "type": "personal", "reason": "A relative."},
        ),
    )
    step(
        "proposal withdrawn",
        lambda: client.post(
            f"{API}/proposals/{ids[2]}/withdraw", headers=h, json={"reason": "No longer needed."}
        ),
    )
    step(
        "panel assignment",
        lambda: client.patch(f"{API}{panel}", headers=etag(panel), json={"proposal_ids": [ids[0]]}),
    )
    step(
        "cycle quorum",
        lambda: client.patch(
            f"{API}/cycles/{cid}", headers=etag(f"/cycles/{cid}"), json={"min_scorecards": 1}
        ),
    )
    step(
        "cycle budgets",
        lambda: client.patch(
            f"{API}/cycles/{cid}", headers=etag(f"/cycles/{cid}"), json={"budgets": {year: "1.00"}}
        ),
    )

    # Another instance, another process or a future code path writing straight into the tables: the
    # revision lives in the database, moved by its triggers, so no cache can miss it.
    engine = sa.create_engine(settings.database_url)
    try:

        class Raw:
            status_code = 200
            text = ""

        def raw_write():
            with engine.begin() as conn:
                conn.execute(
                    sa.update(ScorecardAnswer)
                    .where(ScorecardAnswer.scorecard_id == s1_card, ScorecardAnswer.principle_number == 3)
                    .values(score=0)
                )
            return Raw()

        step("a write by another instance, straight into the tables", raw_write)
    finally:
        engine.dispose()
