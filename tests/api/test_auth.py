import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from app.main import API_PREFIX
from app.models import ApiToken

PUBLIC = {f"{API_PREFIX}/auth/token"}


def api_routes(app):
    """Every operation of the OpenAPI document: a new route is covered without editing this test."""
    for path, operations in app.openapi()["paths"].items():
        if path.startswith(API_PREFIX) and path not in PUBLIC:
            for method in operations:
                yield method.upper(), path


def test_every_api_route_needs_a_token(app, client):
    routes = list(api_routes(app))
    assert len(routes) >= 15
    for method, path in routes:
        # any placeholder value will do: authentication comes first
        url = re.sub(r"\{(\w+)(:\w+)?\}", lambda m: "csv" if m.group(1) == "fmt" else "1", path)
        r = client.request(method, url)
        assert r.status_code == 401, (method, path, r.status_code)
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.headers["www-authenticate"] == "Bearer"


def test_password_sign_in(client, factory):
    factory.user("scorer", email="sam@example.org", password="a-long-password")
    r = client.post(
        f"{API_PREFIX}/auth/token", data={"username": "SAM@example.org", "password": "a-long-password"}
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 3600
    me = client.get(f"{API_PREFIX}/users/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.json()["email"] == "sam@example.org" and me.json()["roles"] == ["scorer"]

    wrong = client.post(
        f"{API_PREFIX}/auth/token", data={"username": "sam@example.org", "password": "nope-nope-nope"}
    )
    unknown = client.post(
        f"{API_PREFIX}/auth/token", data={"username": "who@example.org", "password": "nope-nope-1"}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["detail"] == unknown.json()["detail"] == "Incorrect email or password."


def test_personal_tokens_shown_once_stored_hashed_and_revocable(client, factory, db):
    user = factory.user("finance")
    r = client.post(
        f"{API_PREFIX}/users/me/tokens",
        json={"name": "ranking script", "expires_in_days": 30},
        headers=user.headers,
    )
    assert r.status_code == 201, r.text
    created = r.json()
    secret = created["token"]
    assert secret.startswith("serr_") and len(secret) >= 5 + 43  # 256 bits, URL-safe base64
    with db.unit_of_work(write=False) as session:
        digests = session.scalars(select(ApiToken.digest)).all()
    assert secret not in digests and all(len(d) == 64 for d in digests)

    listed = client.get(f"{API_PREFIX}/users/me/tokens", headers=user.headers).json()
    assert listed["total"] == 1 and "token" not in listed["items"][0]
    assert listed["items"][0]["prefix"] == secret[:12]

    auth = {"Authorization": f"Bearer {secret}"}
    assert client.get(f"{API_PREFIX}/users/me", headers=auth).status_code == 200
    assert (
        client.delete(f"{API_PREFIX}/users/me/tokens/{created['id']}", headers=user.headers).status_code
        == 204
    )
    r = client.get(f"{API_PREFIX}/users/me", headers=auth)
    assert r.status_code == 401 and "revoked" in r.json()["detail"]


def test_token_lifetime_is_bounded_and_expiry_enforced(client, factory, db):
    user = factory.user("scorer")
    r = client.post(
        f"{API_PREFIX}/users/me/tokens", json={"name": "x", "expires_in_days": 5000}, headers=user.headers
    )
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", "expires_in_days"]
    with db.unit_of_work() as session:
        session.execute(update(ApiToken).values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    r = client.get(f"{API_PREFIX}/users/me", headers=user.headers)
    assert r.status_code == 401 and "expired" in r.json()["detail"]


@pytest.mark.parametrize("role", ["chair", "scorer", "finance", "proposer"])
def test_only_admins_manage_users(client, factory, role):
    user = factory.user(role)
    assert client.get(f"{API_PREFIX}/users", headers=user.headers).status_code == 403
    r = client.post(
        f"{API_PREFIX}/users",
        headers=user.headers,
        json={"email": "x@example.org", "full_name": "X", "password": "0123456789ab", "roles": ["scorer"]},
    )
    assert r.status_code == 403


def test_admin_user_management(client, admin):
    r = client.post(
        f"{API_PREFIX}/users",
        headers=admin.headers,
        json={"email": "New@Example.org", "full_name": "New", "password": "short", "roles": ["boss"]},
    )
    assert r.status_code == 422
    assert {tuple(e["loc"]) for e in r.json()["errors"]} == {("body", "password"), ("body", "roles", 0)}
    r = client.post(
        f"{API_PREFIX}/users",
        headers=admin.headers,
        json={
            "email": "New@Example.org",
            "full_name": "New",
            "password": "0123456789ab",
            "roles": ["scorer", "chair"],
        },
    )
    assert r.status_code == 201, r.text
    user = r.json()
    assert user["email"] == "new@example.org" and user["roles"] == ["chair", "scorer"]
    dup = client.post(
        f"{API_PREFIX}/users",
        headers=admin.headers,
        json={"email": "new@example.org", "full_name": "N", "password": "0123456789ab", "roles": ["scorer"]},
    )
    assert dup.status_code == 409
    r = client.patch(
        f"{API_PREFIX}/users/{user['id']}",
        headers=admin.headers,
        json={"version": user["version"], "roles": ["finance"], "is_active": False},
    )
    assert r.status_code == 200 and r.json()["roles"] == ["finance"] and r.json()["is_active"] is False
    stale = client.patch(
        f"{API_PREFIX}/users/{user['id']}",
        headers=admin.headers,
        json={"version": user["version"], "full_name": "Stale"},
    )
    assert stale.status_code == 409
    listed = client.get(f"{API_PREFIX}/users", params={"role": "finance"}, headers=admin.headers).json()
    assert [u["email"] for u in listed["items"]] == ["new@example.org"]
    own = client.patch(
        f"{API_PREFIX}/users/{admin.id}", headers=admin.headers, json={"version": 1, "roles": ["chair"]}
    )
    assert own.status_code == 422 and own.json()["errors"][0]["loc"] == ["body", "roles"]
