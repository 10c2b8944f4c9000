"""Integers beyond what a column holds and text with control characters are a 422 naming the field on
both databases, never a 500 from the driver."""

from __future__ import annotations

import pytest

API = "/api/v1"
PROBLEM = "application/problem+json"
INT32_MAX = 2_147_483_647
TOO_BIG = ("9223372036854775808", "2147483648")


def locs(r) -> list[list]:
    return [e["loc"] for e in r.json().get("errors") or []]


def assert_field_error(r, loc: list, status: int = 422) -> dict:
    """The answer is a problem+json ``status`` with an error at ``loc``; returns that error."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(PROBLEM)
    found = [e for e in r.json().get("errors") or [] if e["loc"] == loc]
    assert found, f"no error at {loc}: {r.text}"
    return found[0]


def _integer(schema: dict) -> dict | None:
    """The integer schema of a parameter (``int`` or ``int | None``), or None."""
    if schema.get("type") == "integer":
        return schema
    return next((s for s in schema.get("anyOf", []) if s.get("type") == "integer"), None)


def test_every_integer_parameter_is_bounded(client, admin):
    """Walk the OpenAPI document: every integer path or query parameter declares a maximum and refuses
    values beyond int64 and beyond int32 (or its own smaller maximum) with a 422 naming it, on both
    databases (before the bounds: 500 from the database driver on 24+ routes)."""
    doc = client.get("/openapi.json").json()
    tried = 0
    failures = []
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            params = op.get("parameters", [])
            for target in params:
                schema = _integer(target["schema"])
                if target["in"] not in ("path", "query") or schema is None:
                    continue
                maximum = schema.get("maximum")
                if maximum is None or maximum > 2**32:
                    failures.append(f"{method.upper()} {path}: {target['name']} has no bound ({maximum})")
                    maximum = INT32_MAX
                for bad in (TOO_BIG[0], str(maximum + 1)):
                    url = path
                    query = {}
                    for p in params:
                        value = bad if p is target else "1"
                        if p["in"] == "path":
                            url = url.replace("{" + p["name"] + "}", value)
                        elif p["in"] == "query" and (
                            p is target or (p.get("required") and _integer(p["schema"]))
                        ):
                            query[p["name"]] = value
                    kwargs = {"params": query, "headers": admin.headers}
                    if method in ("post", "put", "patch"):
                        kwargs["json"] = {}
                    r = client.request(method.upper(), url, **kwargs)
                    tried += 1
                    where = [target["in"], target["name"]]
                    if not (
                        r.status_code == 422
                        and r.headers["content-type"].startswith(PROBLEM)
                        and where in locs(r)
                    ):
                        failures.append(f"{method.upper()} {url} {query}: {r.status_code} {r.text[:200]}")
    assert tried > 60
    assert not failures, "\n".join(failures)


def test_integer_bounds_are_in_the_openapi_document(client):
    doc = client.get("/openapi.json").json()
    params = doc["paths"]["/api/v1/proposals/{proposal_id}"]["get"]["parameters"]
    schema = next(p for p in params if p["name"] == "proposal_id")["schema"]
    assert schema["minimum"] == 1 and schema["maximum"] == INT32_MAX


def test_the_largest_id_is_a_plain_404(client, admin):
    r = client.get(f"{API}/proposals/{INT32_MAX}", headers=admin.headers)
    assert r.status_code == 404 and r.headers["content-type"].startswith(PROBLEM)
    r = client.get(f"{API}/proposals", params={"offset": INT32_MAX}, headers=admin.headers)
    assert r.status_code == 200 and r.json()["items"] == []


def test_integer_body_fields_are_bounded(client, factory, admin):
    cycle = factory.cycle(admin)
    cid = cycle["id"]
    p = factory.proposal(admin, cycle)
    huge = 2**63
    cases = [
        (
            "POST",
            "/proposals",
            {"cycle_id": huge, "title": "Big id", "capability": "D", "kind": "investment", "lead": "L"},
            ["body", "cycle_id"],
        ),
        ("PATCH", f"/proposals/{p['id']}", {"version": 2**31, "title": "New title"}, ["body", "version"]),
        ("POST", f"/proposals/{p['id']}/withdraw", {"version": huge, "reason": "r"}, ["body", "version"]),
        ("PATCH", f"/cycles/{cid}", {"version": huge, "name": "N"}, ["body", "version"]),
        ("POST", f"/cycles/{cid}/panels", {"name": "P", "member_ids": [2**31]}, ["body", "member_ids", 0]),
        ("POST", f"/cycles/{cid}/panels", {"name": "P", "proposal_ids": [huge]}, ["body", "proposal_ids", 0]),
        ("POST", f"/cycles/{cid}/panels", {"name": "P", "chair_id": huge}, ["body", "chair_id"]),
        (
            "POST",
            f"/proposals/{p['id']}/conflicts",
            {"user_id": huge, "type": "financial", "reason": "abc"},
            ["body", "user_id"],
        ),
        ("PUT", f"/proposals/{p['id']}/scorecard", {"version": huge, "scores": []}, ["body", "version"]),
        (
            "PUT",
            f"/proposals/{p['id']}/scorecard",
            {"scores": [{"principle": 1, "score": huge}]},
            ["body", "scores", 0, "score"],
        ),
        (
            "POST",
            "/scorecards/batch",
            {"items": [{"proposal_id": huge, "scores": []}]},
            ["body", "items", 0, "proposal_id"],
        ),
        (
            "POST",
            f"/cycles/{cid}/weightings",
            {"name": "W", "method": "direct", "weights": {"1": 1}, "predecessor_id": huge},
            ["body", "predecessor_id"],
        ),
        (
            "POST",
            f"/cycles/{cid}/weightings",
            {"name": "W", "method": "rank_order", "order": [[huge]]},
            ["body", "order", 0, 0],
        ),
        ("POST", f"/cycles/{cid}/selection", {"weighting_id": huge}, ["body", "weighting_id"]),
        ("POST", f"/cycles/{cid}/selection", {"must_fund": [huge]}, ["body", "must_fund", 0]),
        (
            "POST",
            f"/cycles/{cid}/selection",
            {"exclusive_groups": [[1, huge]]},
            ["body", "exclusive_groups", 0, 1],
        ),
        (
            "POST",
            f"/cycles/{cid}/selection",
            {"dependencies": [{"proposal_id": 1, "requires_id": huge}]},
            ["body", "dependencies", 0, "requires_id"],
        ),
        (
            "POST",
            f"/cycles/{cid}/submissions",
            {"title": "Sub", "supersedes_id": huge},
            ["body", "supersedes_id"],
        ),
        ("POST", "/users/me/tokens", {"name": "t", "expires_in_days": huge}, ["body", "expires_in_days"]),
        ("PATCH", f"/users/{admin.id}", {"version": huge, "full_name": "A"}, ["body", "version"]),
    ]
    for method, path, body, loc in cases:
        r = client.request(method, API + path, json=body, headers=admin.headers)
        assert_field_error(r, loc)


# --- 7. control characters in text -----------------------------------------------------------------


@pytest.mark.parametrize(
    "bad", ["Bad\x01title", "Bad\x00title", "Tab\tin title", "Line\nbreak", "Del\x7fete"]
)
def test_control_characters_in_a_title_are_refused(client, factory, admin, bad):
    cycle = factory.cycle(admin)
    body = {"cycle_id": cycle["id"], "title": bad, "capability": "D", "kind": "investment", "lead": "L"}
    err = assert_field_error(
        client.post(f"{API}/proposals", json=body, headers=admin.headers), ["body", "title"]
    )
    assert "control character" in err["msg"]
    p = factory.proposal(admin, cycle)
    r = client.patch(
        f"{API}/proposals/{p['id']}", json={"version": p["version"], "title": bad}, headers=admin.headers
    )
    assert_field_error(r, ["body", "title"])
    assert client.get(f"{API}/proposals/{p['id']}", headers=admin.headers).json()["title"] == p["title"]


def test_multi_line_fields_keep_line_breaks_and_tabs_but_refuse_other_controls(client, factory, admin):
    cycle = factory.cycle(admin)
    p = factory.proposal(admin, cycle, summary="First line\r\nSecond\tline", self_assessment={"7": "A\nB"})
    assert p["summary"] == "First line\r\nSecond\tline" and p["self_assessment"]["7"] == "A\nB"
    r = client.patch(
        f"{API}/proposals/{p['id']}",
        json={"version": p["version"], "summary": "Nul\x00"},
        headers=admin.headers,
    )
    assert_field_error(r, ["body", "summary"])
    r = client.patch(
        f"{API}/proposals/{p['id']}",
        json={"version": p["version"], "self_assessment": {"3": "Bell\x07"}},
        headers=admin.headers,
    )
    assert_field_error(r, ["body", "self_assessment", "3"])


def test_control_characters_refused_in_other_text_fields(client, factory, admin):
    cycle = factory.cycle(admin)
    cid = cycle["id"]
    p = factory.proposal(admin, cycle)
    cases = [
        (
            "POST",
            "/users",
            {
                "email": "x@example.org",
                "full_name": "Nul\x00name",
                "password": "long-enough-pw",
                "roles": ["scorer"],
            },
            ["body", "full_name"],
        ),
        ("POST", "/cycles", {"name": "C\x01", "financial_years": ["2022-23"]}, ["body", "name"]),
        (
            "POST",
            "/cycles",
            {"name": "C", "financial_years": ["2022-23"], "scale_labels": {"0": "No\x1b"}},
            ["body", "scale_labels", "0"],
        ),
        ("POST", f"/cycles/{cid}/transition", {"to": "scoring", "reason": "r\x00"}, ["body", "reason"]),
        ("POST", f"/cycles/{cid}/panels", {"name": "Panel\x01"}, ["body", "name"]),
        (
            "POST",
            f"/proposals/{p['id']}/conflicts",
            {"type": "financial", "reason": "Nul\x00reason"},
            ["body", "reason"],
        ),
        ("POST", f"/proposals/{p['id']}/withdraw", {"reason": "r\x00"}, ["body", "reason"]),
        (
            "POST",
            f"/cycles/{cid}/weightings",
            {"name": "W\x01", "method": "direct", "weights": {"1": 1}},
            ["body", "name"],
        ),
        (
            "POST",
            f"/cycles/{cid}/weightings",
            {"name": "W", "description": "d\x00", "method": "direct", "weights": {"1": 1}},
            ["body", "description"],
        ),
        ("POST", f"/cycles/{cid}/submissions", {"title": "Sub\x01mission"}, ["body", "title"]),
        ("POST", f"/cycles/{cid}/submissions", {"title": "Submission", "note": "n\x00"}, ["body", "note"]),
        ("POST", "/users/me/tokens", {"name": "tok\x00"}, ["body", "name"]),
        (
            "PUT",
            f"/proposals/{p['id']}/scorecard",
            {"scores": [{"principle": 1, "score": 2, "rationale": "r\x00"}]},
            ["body", "scores", 0, "rationale"],
        ),
    ]
    for method, path, body, loc in cases:
        r = client.request(method, API + path, json=body, headers=admin.headers)
        err = assert_field_error(r, loc)
        assert "control character" in err["msg"], err


@pytest.mark.parametrize("path", ["/proposals", "/users"])
def test_nul_in_a_search_is_refused(client, admin, path):
    r = client.get(API + path, params={"q": "abc\x00def"}, headers=admin.headers)
    err = assert_field_error(r, ["query", "q"])
    assert "control character" in err["msg"]
    r = client.get(f"{API}/proposals", params={"capability": "D\x01"}, headers=admin.headers)
    assert_field_error(r, ["query", "capability"])


def test_a_sign_in_with_nul_in_the_email_is_a_plain_401(client, factory):
    """PostgreSQL cannot compare text holding NUL: the sign-in answered 500 there."""
    user = factory.user("scorer")
    for username, password in [("a\x00b@example.org", "x"), (user.email + "\x00", "correct-horse-battery")]:
        r = client.post(f"{API}/auth/token", data={"username": username, "password": password})
        assert r.status_code == 401 and r.headers["content-type"].startswith(PROBLEM), r.text
    r = client.post(f"{API}/auth/token", data={"username": user.email, "password": "correct-horse-battery"})
    assert r.status_code == 200


# --- dates in filters --------------------------------------------------------------------------------


def test_audit_date_filters_without_a_zone_are_utc(client, admin):
    r = client.get(f"{API}/audit", params={"since": "2000-01-01T00:00:00"}, headers=admin.headers)
    assert r.status_code == 200 and r.json()["total"] >= 1, r.text
    r = client.get(f"{API}/audit", params={"until": "2000-01-01T00:00:00"}, headers=admin.headers)
    assert r.status_code == 200 and r.json()["total"] == 0
    r = client.get(f"{API}/audit", params={"since": "9999-12-31T23:59:59"}, headers=admin.headers)
    assert r.status_code == 200 and r.json()["total"] == 0


def test_audit_date_filters_beyond_the_calendar_are_field_errors(client, admin):
    r = client.get(f"{API}/audit", params={"since": "0001-01-01T00:00:00+14:00"}, headers=admin.headers)
    err = assert_field_error(r, ["query", "since"])
    assert "years 1 to 9999" in err["msg"]
    r = client.get(f"{API}/audit", params={"until": "10000-01-01T00:00:00"}, headers=admin.headers)
    assert_field_error(r, ["query", "until"])
