"""The account page: details, changing one's password, and personal API tokens (shown once, listed without
the secret, revoked with a confirmation; created only after a fresh sign-in)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select, update

from app.models import ApiToken, AuditEvent, WebSession
from tests.api.test_web_forms import error_next_to
from tests.api.test_web_sessions import csrf_of, sign_in

API = "/api/v1"
COMMON = "Choose a password that is harder to guess: this one is in a list of common passwords."


def signed_in(app, email) -> TestClient:
    c = TestClient(app, raise_server_exceptions=False)
    assert sign_in(c, email).status_code == 303
    return c


def post_password(c, current, new, confirm=None):
    page = c.get("/account")
    data = {
        "csrf_token": csrf_of(page.text),
        "current_password": current,
        "new_password": new,
        "confirm_password": new if confirm is None else confirm,
    }
    return c.post("/account/password", data=data, follow_redirects=False)


def test_the_account_page_shows_who_you_are_and_is_in_the_navigation(app, factory):
    user = factory.user("finance", "scorer")
    c = signed_in(app, user.email)
    assert 'href="/account"' in c.get("/").text
    page = c.get("/account")
    assert page.status_code == 200
    assert user.email in page.text and "finance, scorer" in page.text
    assert "You have no personal tokens." in page.text
    assert "At least 12 characters" in page.text  # the rule's hint beside the new password
    anonymous = TestClient(app).get("/account", follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")


def test_change_password_on_the_web_refuses_with_inline_errors(app, factory, db):
    user = factory.user("scorer")
    c = signed_in(app, user.email)
    r = post_password(c, "correct-horse-battery", "Password1234")
    assert r.status_code == 422 and 'class="error-summary"' in r.text
    assert error_next_to(r.text, "new_password") == COMMON
    r = post_password(c, "correct-horse-battery", "a long new passphrase", "a long new passphrasf")
    assert r.status_code == 422 and "are different" in error_next_to(r.text, "confirm_password")
    r = post_password(c, "correct-horse-battery", "eleven-char")
    assert "at least 12 characters: this one has 11" in error_next_to(r.text, "new_password")
    r = post_password(c, "not the password", "a long new passphrase")
    assert r.status_code == 422
    assert error_next_to(r.text, "current_password") == "Your current password is not right. Type it again."
    with db.unit_of_work(write=False) as s:
        events = list(s.scalars(select(AuditEvent).where(AuditEvent.action == "user.password_changed")))
    assert [(e.outcome, e.changes["reason"]) for e in events] == [("failure", "wrong current password")]
    # nothing changed
    ok = c.post(f"{API}/auth/token", data={"username": user.email, "password": "correct-horse-battery"})
    assert ok.status_code == 200


def test_change_password_on_the_web_keeps_this_browser_and_ends_the_rest(app, factory):
    user = factory.user("chair")
    c, other = signed_in(app, user.email), signed_in(app, user.email)
    r = post_password(c, "correct-horse-battery", "  a new passphrase, spaces kept  ")
    assert r.status_code == 303 and r.headers["location"] == "/account?saved=password"
    page = c.get(r.headers["location"])
    assert page.status_code == 200 and "Your password has been changed." in page.text
    gone = other.get("/", follow_redirects=False)
    assert gone.status_code == 303 and gone.headers["location"].startswith("/login")
    assert c.get(f"{API}/users/me", headers=user.headers).status_code == 401
    new = c.post(
        f"{API}/auth/token", data={"username": user.email, "password": "  a new passphrase, spaces kept  "}
    )
    assert new.status_code == 200


def test_tokens_created_shown_once_listed_and_revoked(app, factory, db):
    user = factory.user("proposer")
    c = signed_in(app, user.email)
    page = c.get("/account")
    r = c.post(
        "/account/tokens",
        data={"csrf_token": csrf_of(page.text), "name": "nightly export", "expires_in_days": "30"},
    )
    assert r.status_code == 201, r.text
    secret = re.search(r'id="new-token-value" class="secret" value="([^"]+)"', r.text).group(1)
    assert secret.startswith("serr_") and "shown only this once" in r.text
    me = c.get(f"{API}/users/me", headers={"Authorization": f"Bearer {secret}"})
    assert me.status_code == 200 and me.json()["email"] == user.email
    listed = c.get("/account")
    assert secret not in listed.text and secret[:12] in listed.text and "nightly export" in listed.text
    with db.unit_of_work(write=False) as s:
        token = s.scalar(select(ApiToken).where(ApiToken.prefix == secret[:12]))
        lifetime = token.expires_at - token.created_at
        assert token.kind == "personal" and abs(lifetime - timedelta(days=30)) < timedelta(seconds=5)
        created = s.scalar(select(AuditEvent).where(AuditEvent.action == "token.created"))
        assert created.entity_id == str(token.id) and secret not in str(created.changes)
    confirm = c.get(f"/account/tokens/{token.id}/revoke")
    assert confirm.status_code == 200 and "Revoke the token “nightly export”?" in confirm.text
    r = c.post(
        f"/account/tokens/{token.id}/revoke",
        data={"csrf_token": csrf_of(confirm.text)},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/account?saved=revoked"
    assert c.get(f"{API}/users/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 401
    after = c.get(r.headers["location"])
    assert "The token has been revoked" in after.text and "revoked " in after.text
    assert f"/account/tokens/{token.id}/revoke" not in after.text
    # without the session's CSRF token nothing is revoked or created; someone else's token is not found
    other = factory.user("proposer")
    oc = signed_in(app, other.email)
    assert oc.get(f"/account/tokens/{token.id}/revoke").status_code == 404
    assert c.post("/account/tokens", data={"name": "forged"}).status_code == 403


def test_creating_a_token_on_the_web_needs_a_fresh_sign_in_and_good_fields(app, factory, db, settings):
    user = factory.user("scorer")
    c = signed_in(app, user.email)
    csrf = csrf_of(c.get("/account").text)
    # bad fields come back beside the field
    r = c.post("/account/tokens", data={"csrf_token": csrf, "name": "", "expires_in_days": "²"})
    assert r.status_code == 422
    assert "whole number" in error_next_to(r.text, "expires_in_days")
    r = c.post("/account/tokens", data={"csrf_token": csrf, "name": "", "expires_in_days": "3"})
    assert r.status_code == 422 and error_next_to(r.text, "name")
    too_long = str(settings.personal_token_days_max + 1)
    r = c.post("/account/tokens", data={"csrf_token": csrf, "name": "x", "expires_in_days": too_long})
    assert r.status_code == 422 and error_next_to(r.text, "expires_in_days")
    # a session older than the fresh sign-in window cannot create one
    with db.unit_of_work() as s:
        s.execute(
            update(WebSession)
            .where(WebSession.user_id == user.id)
            .values(created_at=datetime.now(UTC) - timedelta(minutes=settings.fresh_signin_minutes + 1))
        )
    page = c.get("/account")
    assert 'action="/account/tokens"' not in page.text and "Sign in again to create a token" in page.text
    r = c.post("/account/tokens", data={"csrf_token": csrf, "name": "stale"})
    assert r.status_code == 403 and "needs a recent sign-in" in r.text
    with db.unit_of_work(write=False) as s:
        assert s.scalar(select(ApiToken.id).where(ApiToken.name == "stale")) is None
    # signing in again (a new session) makes it possible
    assert sign_in(c, user.email).status_code == 303
    page = c.get("/account")
    r = c.post(
        "/account/tokens", data={"csrf_token": csrf_of(page.text), "name": "fresh", "expires_in_days": ""}
    )
    assert r.status_code == 201, r.text
