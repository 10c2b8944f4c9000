"""The permissions matrix: every API operation × every role.

The table below must name every operation of the OpenAPI document, so a new route cannot be added
without deciding who may use it. "Allowed" means the role gets past authorisation (any status but
401/403); "denied" means 403, or 404 where the thing is hidden from that role.
"""

import pytest

from app.main import API_PREFIX

ROLES = ("admin", "chair", "scorer", "finance", "proposer")
ANY = set(ROLES)
STAFF = {"admin", "chair", "scorer", "finance"}
MANAGERS = {"admin", "chair"}
READERS = {"admin", "chair", "finance"}

USER = {
    "email": "new-{role}@example.org",
    "full_name": "New",
    "password": "0123456789ab",
    "roles": ["scorer"],
}
PROPOSAL = {
    "cycle_id": "{cycle}",
    "title": "Matrix proposal",
    "capability": "People",
    "kind": "efficiency",
    "lead": "L",
}

# (method, path): (allowed roles, JSON body or None). Operations that change the world come last.
MATRIX = {
    ("GET", "/users/me"): (ANY, None),
    ("POST", "/users/me/tokens"): (ANY, {"name": "matrix"}),
    ("GET", "/users/me/tokens"): (ANY, None),
    ("DELETE", "/users/me/tokens/{token_id}"): (ANY, None),
    ("GET", "/users/me/allocation"): (ANY, None),
    # A wrong current password: gets past authorisation (422) and changes nothing.
    ("POST", "/users/me/password"): (ANY, {"current_password": "not it", "new_password": "x"}),
    ("POST", "/users"): ({"admin"}, USER),
    ("GET", "/users"): ({"admin"}, None),
    ("GET", "/users/{user_id}"): ({"admin"}, None),
    ("PATCH", "/users/{user_id}"): ({"admin"}, {"full_name": "Renamed", "version": 1}),
    ("POST", "/users/{user_id}/sign-out"): ({"admin"}, None),
    ("GET", "/principles"): (ANY, None),
    ("GET", "/principles/{number}"): (ANY, None),
    ("GET", "/cycles"): (ANY, None),
    ("GET", "/cycles/{cycle_id}"): (ANY, None),
    ("POST", "/cycles"): (MANAGERS, {"name": "Matrix {role}", "financial_years": ["2030-31"]}),
    ("PATCH", "/cycles/{cycle_id}"): ({"admin"}, {"budgets": {"2022-23": "1.00"}, "version": 1}),
    ("GET", "/proposals"): (ANY, None),
    ("GET", "/proposals/{proposal_id}"): (STAFF, None),
    ("POST", "/proposals"): ({"admin", "chair", "proposer"}, PROPOSAL),
    ("PATCH", "/proposals/{proposal_id}"): (MANAGERS, {"summary": "Edited", "version": 1}),
    ("POST", "/cycles/{cycle_id}/proposals/import"): (MANAGERS, "file"),
    ("GET", "/cycles/{cycle_id}/panels"): (ANY, None),
    ("GET", "/cycles/{cycle_id}/panels/{panel_id}"): (STAFF, None),
    ("POST", "/cycles/{cycle_id}/panels"): (MANAGERS, {"name": "Matrix panel {role}"}),
    ("PATCH", "/cycles/{cycle_id}/panels/{panel_id}"): (MANAGERS, {"name": "Renamed panel", "version": 1}),
    ("GET", "/cycles/{cycle_id}/progress"): (MANAGERS, None),
    ("GET", "/cycles/{cycle_id}/agreement"): (MANAGERS, None),
    ("GET", "/proposals/{proposal_id}/conflicts"): (STAFF, None),
    ("GET", "/proposals/{proposal_id}/scorecard"): ({"scorer"}, None),
    ("PUT", "/proposals/{proposal_id}/scorecard"): ({"scorer"}, {"scores": [{"principle": 1, "score": 3}]}),
    ("POST", "/scorecards/batch"): (ANY, {"items": [{"proposal_id": "{proposal}", "scores": []}]}),
    ("GET", "/proposals/{proposal_id}/scorecards"): ({"admin", "chair", "scorer"}, None),
    ("GET", "/proposals/{proposal_id}/moderation"): ({"admin", "chair", "scorer"}, None),
    ("PUT", "/proposals/{proposal_id}/moderation"): (
        MANAGERS,
        {"scores": [{"principle": 2, "score": 3, "note": "Agreed"}]},
    ),
    ("GET", "/cycles/{cycle_id}/weightings"): (ANY, None),
    ("GET", "/cycles/{cycle_id}/weightings/{weighting_id}"): (ANY, None),
    ("POST", "/cycles/{cycle_id}/weightings"): (
        MANAGERS,
        {"name": "M {role}", "method": "direct", "weights": {"1": 1}},
    ),
    ("POST", "/cycles/{cycle_id}/weightings/{weighting_id}/default"): (MANAGERS, None),
    ("GET", "/cycles/{cycle_id}/ranking"): (READERS, None),
    ("GET", "/cycles/{cycle_id}/ranking/compare"): (READERS, None),
    ("GET", "/cycles/{cycle_id}/ranking/sensitivity"): (READERS, None),
    ("POST", "/cycles/{cycle_id}/selection"): (READERS, {}),
    ("GET", "/cycles/{cycle_id}/submissions"): (READERS, None),
    ("POST", "/cycles/{cycle_id}/submissions"): (READERS, {"title": "Matrix submission"}),
    ("GET", "/submissions/{submission_id}"): (READERS, None),
    ("GET", "/submissions/{submission_id}/verify"): (READERS, None),
    ("GET", "/submissions/{submission_id}.{fmt}"): (READERS, None),
    ("GET", "/audit"): ({"admin"}, None),
    ("GET", "/auth/locks"): ({"admin"}, None),
    # Nothing is locked: an admin gets past authorisation (404) and nothing changes.
    ("DELETE", "/auth/locks/{scope}/{key}"): ({"admin"}, None),
    ("POST", "/proposals/{proposal_id}/scorecards/{scorecard_id}/reopen"): (MANAGERS, {"reason": "Matrix"}),
    ("POST", "/proposals/{proposal_id}/withdraw"): (MANAGERS, {"reason": "Matrix"}),
    ("POST", "/proposals/{proposal_id}/conflicts"): (STAFF, {"type": "other", "reason": "Matrix check"}),
    ("POST", "/cycles/{cycle_id}/transition"): (MANAGERS, {"to": "moderation"}),
    # One's own second factor: a wrong code (422) or none set up (409) changes nothing but the audit trail.
    ("GET", "/users/me/mfa"): (ANY, None),
    ("POST", "/users/me/mfa"): (ANY, None),
    ("POST", "/users/me/mfa/confirm"): (ANY, {"code": "000000"}),
    ("POST", "/users/me/mfa/recovery-codes"): (ANY, {"code": "000000"}),
    ("POST", "/users/me/mfa/disable"): (ANY, {"code": "000000"}),
    ("DELETE", "/users/{user_id}/mfa"): ({"admin"}, None),
    ("POST", "/auth/logout"): (ANY, None),
}
PUBLIC = {("POST", "/auth/token")}
# Revokes the very token it is called with, so it runs after every other operation of a role.
LAST = ("POST", "/auth/logout")


def operations(app):
    for path, ops in app.openapi()["paths"].items():
        if path.startswith(API_PREFIX):
            for method in ops:
                yield method.upper(), path[len(API_PREFIX) :]


def test_matrix_names_every_operation(app):
    ops = set(operations(app))
    assert ops - set(MATRIX) - PUBLIC == set(), "add these operations to MATRIX"
    assert set(MATRIX) - ops == set(), "these MATRIX rows name no operation"


@pytest.fixture
def world(client, factory, admin):
    """A cycle in scoring with a panel; the scorer has submitted a scorecard; a submission exists."""
    actors = {"admin": admin, **{r: factory.user(r) for r in ROLES if r != "admin"}}
    cycle = factory.cycle(admin)
    proposal = factory.proposal(admin, cycle)
    r = client.post(
        f"{API_PREFIX}/cycles/{cycle['id']}/panels",
        headers=actors["chair"].headers,
        json={"name": "Matrix", "member_ids": [actors["scorer"].id], "proposal_ids": [proposal["id"]]},
    )
    panel = r.json()
    client.post(
        f"{API_PREFIX}/cycles/{cycle['id']}/transition", json={"to": "scoring"}, headers=admin.headers
    )
    card = client.put(
        f"{API_PREFIX}/proposals/{proposal['id']}/scorecard",
        headers=actors["scorer"].headers,
        json={"submit": True, "scores": [{"principle": p, "score": 3} for p in range(1, 13)]},
    ).json()
    sub = client.post(
        f"{API_PREFIX}/cycles/{cycle['id']}/submissions",
        headers=admin.headers,
        json={"title": "Baseline", "override_reason": "Baseline for the permissions matrix"},
    ).json()
    weighting = client.get(f"{API_PREFIX}/cycles/{cycle['id']}/weightings", headers=admin.headers).json()
    token = client.post(f"{API_PREFIX}/users/me/tokens", headers=admin.headers, json={"name": "t"}).json()
    ids = {
        "cycle_id": cycle["id"],
        "proposal_id": proposal["id"],
        "panel_id": panel["id"],
        "scorecard_id": card["id"],
        "submission_id": sub["id"],
        "weighting_id": weighting["items"][0]["id"],
        "token_id": token["id"],
        "scope": "account",
        "key": "nobody@example.org",
        "user_id": actors["proposer"].id,
        "number": 7,
        "fmt": "csv",
    }
    return actors, ids


def fill(value, role, ids):
    if isinstance(value, str):
        text = value.replace("{role}", role)
        if text == "{cycle}":
            return ids["cycle_id"]
        if text == "{proposal}":
            return ids["proposal_id"]
        return text
    if isinstance(value, dict):
        return {k: fill(v, role, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, role, ids) for v in value]
    return value


@pytest.mark.parametrize("role", ROLES)
def test_every_operation_for_a_role(client, world, role):
    actors, ids = world
    actor = actors[role]
    wrong = []
    for (method, path), (allowed, body) in sorted(MATRIX.items(), key=lambda row: row[0] == LAST):
        url = API_PREFIX + path.format(**ids)
        if path.endswith("/compare"):
            url += f"?a={ids['weighting_id']}&b={ids['weighting_id']}"
        kwargs = {"headers": actor.headers}
        if body == "file":
            kwargs["files"] = {
                "file": ("p.csv", b"title,capability,kind,lead\nImported,People,efficiency,L\n", "text/csv")
            }
        elif body is not None:
            kwargs["json"] = fill(body, role, ids)
        status = client.request(method, url, **kwargs).status_code
        if role in allowed and status in (401, 403):
            wrong.append(f"{method} {path}: {role} should be allowed, got {status}")
        if role not in allowed and status not in (403, 404):
            wrong.append(f"{method} {path}: {role} should be denied, got {status}")
    assert wrong == []
