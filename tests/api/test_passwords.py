"""The password rule (length, every character, the common-password list, the email's name), changing one's
own password (API), and what a password change or a deactivation ends."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from app.auth import passwords
from app.models import AuditEvent
from tests.api.test_throttle import clock  # noqa: F401  (the throttle's clock, frozen)
from tests.api.test_web_sessions import csrf_of, sign_in

API = "/api/v1"
COMMON = "Choose a password that is harder to guess: this one is in a list of common passwords."


def create(client, admin, password, email="new.person@example.org"):
    return client.post(
        f"{API}/users",
        headers=admin.headers,
        json={"email": email, "full_name": "New Person", "password": password, "roles": ["scorer"]},
    )


def password_error(r, field="password"):
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    errors = {tuple(e["loc"]): e["msg"] for e in r.json()["errors"]}
    assert list(errors) == [("body", field)], errors
    return errors[("body", field)]


def test_the_list_is_bundled_and_large():
    common = passwords.common_passwords()
    assert isinstance(common, frozenset) and len(common) > 40_000
    assert passwords.common_passwords() is common  # read once
    assert all(p == p.lower() for p in common)


def test_a_common_password_is_refused_with_a_field_error(client, admin):
    # in the list as it stands, in capitals, and in full-width characters (NFKC)
    for common in ("password1234", "Password1234", "QWERTYUIOP123", "ｐａｓｓｗｏｒｄ１２３４"):
        assert password_error(create(client, admin, common)) == COMMON


def test_length_and_characters(client, admin):
    r = create(client, admin, "x" * 5 + "-river-")  # 12 characters, not common
    assert r.status_code == 201, r.text
    assert password_error(create(client, admin, "s" * 4 + "-river-", "b@example.org")) == (
        "Choose a password of at least 12 characters: this one has 11."
    )
    for n, ok in ((64, True), (128, True), (129, False)):
        password = ("grey heron by the weir " * 6)[:n]
        r = create(client, admin, password, f"len{n}@example.org")
        if ok:
            assert r.status_code == 201, r.text
            signed = client.post(
                f"{API}/auth/token", data={"username": f"len{n}@example.org", "password": password}
            )
            assert signed.status_code == 200
        else:
            assert "at most 128 characters" in password_error(r)
    # any Unicode, spaces inside and at either end, kept exactly as typed (not stripped, not normalised)
    unicode_pw = " Ünïcødé 密码 🦔 mot de passe "
    assert create(client, admin, unicode_pw, "uni@example.org").status_code == 201
    ok = client.post(f"{API}/auth/token", data={"username": "uni@example.org", "password": unicode_pw})
    assert ok.status_code == 200
    stripped = client.post(
        f"{API}/auth/token", data={"username": "uni@example.org", "password": unicode_pw.strip()}
    )
    assert stripped.status_code == 401
    # no composition rules: all lower-case letters is fine
    assert create(client, admin, "lanternfishmeadow", "lower@example.org").status_code == 201


def test_a_password_containing_the_email_name_is_refused(client, admin, factory):
    r = create(client, admin, "Margaret.Hale-2027!", "margaret.hale@example.org")
    assert "name of the email address" in password_error(r)
    # an admin's reset of an existing user's password follows the same rule
    user = factory.user("scorer", email="juniper.vale@example.org")
    r = client.patch(f"{API}/users/{user.id}", headers=admin.headers, json={"password": "xx-JUNIPER.VALE-xx"})
    assert "name of the email address" in password_error(r)
    r = client.patch(f"{API}/users/{user.id}", headers=admin.headers, json={"password": "password1234"})
    assert password_error(r) == COMMON


def test_existing_passwords_outside_the_rule_still_sign_in(client, factory, db, settings):
    from sqlalchemy import update

    from app.auth.security import hash_password
    from app.models import User

    user = factory.user("scorer")
    with db.unit_of_work() as s:  # set before the rule existed
        s.execute(
            update(User).where(User.id == user.id).values(password_hash=hash_password(settings, "short"))
        )
    r = client.post(f"{API}/auth/token", data={"username": user.email, "password": "short"})
    assert r.status_code == 200


def change(client, headers, current, new):
    return client.post(
        f"{API}/users/me/password", headers=headers, json={"current_password": current, "new_password": new}
    )


def audit(db, action):
    with db.unit_of_work(write=False) as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def test_change_password_checks_the_current_one_and_the_rule(client, factory, db):
    user = factory.user("scorer")
    r = change(client, user.headers, "not-my-password", "a-new-long-passphrase")
    assert password_error(r, "current_password") == "Your current password is not right. Type it again."
    r = change(client, user.headers, "correct-horse-battery", "password1234")
    assert password_error(r, "new_password") == COMMON
    r = change(client, user.headers, "correct-horse-battery", "eleven-char")
    assert "at least 12 characters" in password_error(r, "new_password")
    r = change(client, user.headers, "correct-horse-battery", "correct-horse-battery")
    assert "different from your current one" in password_error(r, "new_password")
    # nothing changed: the old password still signs in
    ok = client.post(f"{API}/auth/token", data={"username": user.email, "password": "correct-horse-battery"})
    assert ok.status_code == 200
    failures = audit(db, "user.password_changed")
    assert [(e.outcome, e.changes["reason"]) for e in failures] == [
        ("failure", "wrong current password"),
        ("failure", "new password same as current"),
    ]
    assert failures[0].actor_id == user.id and failures[0].client_address
    assert "not-my-password" not in str(failures[0].changes)


def test_change_password_ends_every_other_session_and_token(client, factory, db):
    user = factory.user("finance")
    signed = client.post(
        f"{API}/auth/token", data={"username": user.email, "password": "correct-horse-battery"}
    )
    current = {"Authorization": f"Bearer {signed.json()['access_token']}"}
    personal = client.post(f"{API}/users/me/tokens", headers=current, json={"name": "script"}).json()
    others = [user.headers, {"Authorization": f"Bearer {personal['token']}"}]
    assert sign_in(client, user.email).status_code == 303
    r = change(client, current, "correct-horse-battery", "a new passphrase for me")
    assert r.status_code == 204, r.text
    assert client.get(f"{API}/users/me", headers=current).status_code == 200  # the current one stays
    for h in others:
        assert client.get(f"{API}/users/me", headers=h).status_code == 401
    r = client.get("/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    (event,) = audit(db, "user.password_changed")
    assert event.outcome == "success" and event.actor_id == user.id
    assert event.changes["tokens_revoked"] == 2 and event.changes["web_sessions_ended"] == 1
    assert "a new passphrase" not in str(event.changes)
    old = client.post(f"{API}/auth/token", data={"username": user.email, "password": "correct-horse-battery"})
    assert old.status_code == 401
    new = client.post(
        f"{API}/auth/token", data={"username": user.email, "password": "a new passphrase for me"}
    )
    assert new.status_code == 200


def test_admin_reset_signs_out_everywhere_and_is_audited(client, factory, admin, db):
    user = factory.user("scorer")
    r = client.patch(
        f"{API}/users/{user.id}", headers=admin.headers, json={"password": "a-brand-new-password"}
    )
    assert r.status_code == 200, r.text
    assert client.get(f"{API}/users/me", headers=user.headers).status_code == 401
    (event,) = audit(db, "user.password_reset")
    assert event.outcome == "success" and event.actor_id == admin.id and event.entity_id == str(user.id)
    assert event.changes["tokens_revoked"] == 1 and "a-brand-new" not in str(event.changes)


def test_deactivation_ends_sessions_and_tokens(client, factory, admin, db):
    user = factory.user("scorer")
    assert sign_in(client, user.email).status_code == 303
    r = client.patch(f"{API}/users/{user.id}", headers=admin.headers, json={"is_active": False})
    assert r.status_code == 200, r.text
    assert client.get(f"{API}/users/me", headers=user.headers).status_code == 401
    r = client.get("/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    from app.models import ApiToken, WebSession

    with db.unit_of_work(write=False) as s:
        assert s.scalar(select(WebSession.id).where(WebSession.user_id == user.id)) is None
        assert (
            s.scalar(select(ApiToken.id).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None)))
            is None
        )
    # reactivated, the old token stays revoked
    r = client.patch(f"{API}/users/{user.id}", headers=admin.headers, json={"is_active": True})
    assert r.status_code == 200
    assert client.get(f"{API}/users/me", headers=user.headers).status_code == 401


def test_wrong_current_passwords_count_towards_the_sign_in_throttle(
    request, app, client, factory, db, settings
):
    frozen = request.getfixturevalue("clock")
    user = factory.user("scorer")
    web = TestClient(app, raise_server_exceptions=False)
    assert sign_in(web, user.email).status_code == 303
    for _ in range(settings.throttle_backoff_after):
        r = change(client, user.headers, "not-my-password", "a-new-long-passphrase")
        assert r.status_code == 422
    # the account must now wait: even the right current password is not checked
    r = change(client, user.headers, "correct-horse-battery", "a-new-long-passphrase")
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
    assert r.headers["content-type"].startswith("application/problem+json")
    counted = [e for e in audit(db, "auth.login_failed") if e.outcome == "failure"]
    assert len(counted) == settings.throttle_backoff_after
    assert {e.changes["reason"] for e in counted} == {"wrong current password"}
    # the web form answers the same, in words; and signing in must wait too (one counter per account)
    assert sign_in(client, user.email).status_code == 429
    page = web.get("/account")
    r = web.post(
        "/account/password",
        data={
            "csrf_token": csrf_of(page.text),
            "current_password": "correct-horse-battery",
            "new_password": "a-new-long-passphrase",
            "confirm_password": "a-new-long-passphrase",
        },
    )
    assert r.status_code == 429 and "Too many failed sign-ins" in r.text
    frozen.forward(int(r.headers.get("Retry-After", 0)) or 60)
    assert change(client, user.headers, "correct-horse-battery", "a-new-long-passphrase").status_code == 204
