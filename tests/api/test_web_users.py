"""The admin's users pages: find users, edit roles, deactivate and reactivate through a confirmation page
(which ends every session and token of theirs), set a new password, sign them out everywhere; the
service's own rules shown as they are said there. On SQLite and PostgreSQL."""

from __future__ import annotations

import html
import re

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.models import AuditEvent, User
from tests.api.test_web_sessions import csrf_of, sign_in

API = "/api/v1"


def admin_client(app, admin) -> TestClient:
    c = TestClient(app, raise_server_exceptions=False)
    assert sign_in(c, admin.email).status_code == 303
    return c


def user_row(db, user_id: int) -> tuple[bool, list[str], str]:
    with db.unit_of_work(write=False) as s:
        u = s.get(User, user_id)
        return u.is_active, u.roles, u.full_name


def events(db, action: str, user_id: int) -> int:
    with db.unit_of_work(write=False) as s:
        return s.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == action, AuditEvent.entity_id == str(user_id))
        )


def text_of(page: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


def test_the_list_filters_searches_and_pages(app, factory, admin):
    for _ in range(3):
        factory.user("finance")
    gone = factory.user("scorer", email="gone.person@example.org")
    c = admin_client(app, admin)
    assert (
        c.post(
            f"/admin/users/{gone.id}/deactivate", data={"csrf_token": csrf_of(c.get("/admin/users").text)}
        ).status_code
        == 200
    )
    page = c.get("/admin/users")
    assert page.status_code == 200
    assert "1 to 5 of 5 users" in text_of(page.text)
    assert f'href="/admin/users/{gone.id}"' in page.text
    finance = c.get("/admin/users", params={"role": "finance"})
    assert "1 to 3 of 3 users" in text_of(finance.text) and "gone.person" not in finance.text
    found = c.get("/admin/users", params={"q": "GONE.person"})
    assert "1 to 1 of 1 user " in text_of(found.text) and "Deactivated" in found.text
    inactive = c.get("/admin/users", params={"active": "no"})
    assert "1 to 1 of 1 user " in text_of(inactive.text)
    active = c.get("/admin/users", params={"active": "yes", "role": "finance", "q": "user"})
    assert "1 to 3 of 3 users" in text_of(active.text)
    # the admin signed in on the web: the sign-in is recorded and shown
    assert "Not recorded" in page.text and re.search(r"\d\d \w\w\w \d{4} \d\d:\d\d UTC", page.text)
    assert c.get("/admin/users", params={"role": "owner"}).status_code == 400
    assert c.get("/admin/users", params={"q": "a\x00b"}).status_code == 400


def test_fifty_users_a_page(app, factory, admin):
    for _ in range(51):
        factory.user("scorer")
    c = admin_client(app, admin)
    first = c.get("/admin/users", params={"role": "scorer"})
    assert "1 to 50 of 51 users" in text_of(first.text)
    assert first.text.count('href="/admin/users/') - first.text.count('href="/admin/users/new"') == 50
    assert 'href="/admin/users?role=scorer&amp;page=2"' in first.text
    second = c.get("/admin/users", params={"role": "scorer", "page": "2"})
    assert "51 to 51 of 51 users" in text_of(second.text) and 'rel="prev"' in second.text


def test_edit_name_and_roles(app, db, factory, admin):
    user = factory.user("scorer")
    c = admin_client(app, admin)
    page = c.get(f"/admin/users/{user.id}")
    assert page.status_code == 200
    version = re.search(r'name="version" value="(\d+)"', page.text).group(1)
    form = {"csrf_token": csrf_of(page.text), "version": version, "full_name": "Renamed Person"}
    r = c.post(f"/admin/users/{user.id}", data=form | {"roles": ["scorer", "chair"]}, follow_redirects=False)
    assert r.status_code == 303
    assert user_row(db, user.id) == (True, ["chair", "scorer"], "Renamed Person")
    done = c.get(r.headers["location"])
    assert "Their roles changed, so their web sessions ended" in text_of(done.text)
    assert 'role="status"' in done.text
    # a stale version is refused, and nothing is changed
    r = c.post(f"/admin/users/{user.id}", data=form | {"full_name": "Stale", "roles": ["scorer"]})
    assert r.status_code == 422 and "re-read and retry" in text_of(r.text)
    assert user_row(db, user.id)[2] == "Renamed Person"


def test_field_errors_keep_what_was_typed(app, db, factory, admin):
    user = factory.user("scorer")
    c = admin_client(app, admin)
    page = c.get(f"/admin/users/{user.id}")
    version = re.search(r'name="version" value="(\d+)"', page.text).group(1)
    r = c.post(
        f"/admin/users/{user.id}",
        data={"csrf_token": csrf_of(page.text), "version": version, "full_name": "  "},
    )
    assert r.status_code == 422
    assert 'id="full_name-error"' in r.text and "Enter their full name." in r.text
    assert 'id="roles-error"' in r.text and "Choose at least one role." in r.text
    assert 'href="#roles"' in r.text and 'id="roles"' in r.text  # the summary links to the field
    r = c.post(
        f"/admin/users/{user.id}",
        data={
            "csrf_token": csrf_of(page.text),
            "version": version,
            "full_name": "Kept\tname",
            "roles": "chair",
        },
    )
    assert r.status_code == 422 and 'id="full_name-error"' in r.text
    assert 'value="Kept\tname"' in r.text and 'value="chair" checked' in r.text
    assert user_row(db, user.id) == (True, ["scorer"], "User 2")


def test_the_service_rules_about_oneself_are_shown(app, db, admin):
    c = admin_client(app, admin)
    page = c.get(f"/admin/users/{admin.id}")
    version = re.search(r'name="version" value="(\d+)"', page.text).group(1)
    r = c.post(
        f"/admin/users/{admin.id}",
        data={"csrf_token": csrf_of(page.text), "version": version, "full_name": "Me", "roles": "scorer"},
    )
    assert r.status_code == 422
    assert 'id="roles-error"' in r.text and "An admin cannot remove their own admin role" in r.text
    r = c.post(f"/admin/users/{admin.id}/deactivate", data={"csrf_token": csrf_of(page.text)})
    assert r.status_code == 422 and "An admin cannot deactivate their own account." in text_of(r.text)
    r = c.post(f"/admin/users/{admin.id}/sign-out", data={"csrf_token": csrf_of(page.text)})
    assert r.status_code == 422 and "An admin cannot end their own sessions this way" in text_of(r.text)
    assert user_row(db, admin.id)[:2] == (True, ["admin"])
    assert c.get("/admin/users").status_code == 200  # still signed in


def test_deactivation_ends_sessions_and_tokens_and_reactivation_lets_them_back(
    app, client, db, factory, admin
):
    user = factory.user("scorer")  # one API token from the factory
    theirs = TestClient(app, raise_server_exceptions=False)
    assert sign_in(theirs, user.email).status_code == 303
    other = TestClient(app, raise_server_exceptions=False)
    assert sign_in(other, user.email).status_code == 303
    assert client.get(f"{API}/users/me", headers=user.headers).status_code == 200

    c = admin_client(app, admin)
    confirm = c.get(f"/admin/users/{user.id}/deactivate")
    assert confirm.status_code == 200
    assert "Their 2 sessions and 1 API token end now." in text_of(confirm.text)
    assert user_row(db, user.id)[0] is True  # the confirmation page changes nothing
    r = c.post(
        f"/admin/users/{user.id}/deactivate",
        data={"csrf_token": csrf_of(confirm.text)},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert user_row(db, user.id)[0] is False
    done = c.get(r.headers["location"])
    assert "was deactivated. 2 sessions and 1 API token ended." in text_of(done.text)
    assert client.get(f"{API}/users/me", headers=user.headers).status_code == 401
    assert theirs.get("/", follow_redirects=False).headers["location"].startswith("/login")
    assert sign_in(other, user.email).status_code == 401
    assert events(db, "user.updated", user.id) == 1

    confirm = c.get(f"/admin/users/{user.id}/reactivate")
    assert "can sign in again with their password" in text_of(confirm.text)
    r = c.post(
        f"/admin/users/{user.id}/reactivate",
        data={"csrf_token": csrf_of(confirm.text)},
        follow_redirects=False,
    )
    assert r.status_code == 303 and user_row(db, user.id)[0] is True
    assert "was reactivated" in text_of(c.get(r.headers["location"]).text)
    assert sign_in(other, user.email).status_code == 303
    # the token revoked at deactivation stays revoked
    assert client.get(f"{API}/users/me", headers=user.headers).status_code == 401
    assert events(db, "user.updated", user.id) == 2


def test_reset_password(app, client, db, factory, admin):
    user = factory.user("finance", email="casey.finance@example.org")
    theirs = TestClient(app, raise_server_exceptions=False)
    assert sign_in(theirs, user.email).status_code == 303
    c = admin_client(app, admin)
    page = c.get(f"/admin/users/{user.id}")
    assert "Their 1 session and 1 API token end now" in text_of(page.text)
    csrf = csrf_of(page.text)
    r = c.post(f"/admin/users/{user.id}/password", data={"csrf_token": csrf, "password": "short"})
    assert r.status_code == 422 and 'id="password-error"' in r.text
    assert "at least 12 characters" in text_of(r.text)
    r = c.post(
        f"/admin/users/{user.id}/password", data={"csrf_token": csrf, "password": "casey.finance 2026!"}
    )
    assert r.status_code == 422 and "contains the name of the email address" in text_of(r.text)
    assert sign_in(TestClient(app), user.email).status_code == 303  # the old password still works

    r = c.post(
        f"/admin/users/{user.id}/password",
        data={"csrf_token": csrf, "password": "a brand new passphrase"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    done = text_of(c.get(r.headers["location"]).text)
    assert "has a new password. 2 sessions and 1 API token ended" in done
    assert theirs.get("/", follow_redirects=False).headers["location"].startswith("/login")
    assert client.get(f"{API}/users/me", headers=user.headers).status_code == 401
    assert sign_in(TestClient(app), user.email).status_code == 401
    assert sign_in(TestClient(app), user.email, "a brand new passphrase").status_code == 303
    assert events(db, "user.password_reset", user.id) == 1


def test_sign_out_everywhere_keeps_the_account(app, client, db, factory, admin):
    user = factory.user("proposer")
    theirs = TestClient(app, raise_server_exceptions=False)
    assert sign_in(theirs, user.email).status_code == 303
    c = admin_client(app, admin)
    page = c.get(f"/admin/users/{user.id}")
    r = c.post(
        f"/admin/users/{user.id}/sign-out", data={"csrf_token": csrf_of(page.text)}, follow_redirects=False
    )
    assert r.status_code == 303
    assert "signed out everywhere. 1 session and 1 API token ended" in text_of(
        c.get(r.headers["location"]).text
    )
    assert client.get(f"{API}/users/me", headers=user.headers).status_code == 401
    assert theirs.get("/", follow_redirects=False).headers["location"].startswith("/login")
    assert user_row(db, user.id)[0] is True and sign_in(theirs, user.email).status_code == 303
    assert events(db, "user.signed_out", user.id) == 1


def test_new_user(app, db, admin):
    c = admin_client(app, admin)
    page = c.get("/admin/users/new")
    assert page.status_code == 200
    form = {"csrf_token": csrf_of(page.text), "email": "new.person@example.org", "full_name": "New Person"}
    r = c.post("/admin/users", data=form | {"password": "open sesame", "roles": "scorer"})
    assert r.status_code == 422 and 'id="password-error"' in r.text
    assert 'value="new.person@example.org"' in r.text and 'value="scorer" checked' in r.text
    r = c.post("/admin/users", data=form | {"password": ""})
    assert (
        r.status_code == 422
        and "Choose at least one role." in r.text
        and "Enter a password for them." in r.text
    )
    r = c.post(
        "/admin/users",
        data=form | {"password": "a long enough phrase", "roles": ["scorer", "chair"]},
        follow_redirects=False,
    )
    assert r.status_code == 303
    new_id = int(r.headers["location"].split("/")[3].split("?")[0])
    assert user_row(db, new_id) == (True, ["chair", "scorer"], "New Person")
    assert "New Person was created" in c.get(r.headers["location"]).text
    r = c.post("/admin/users", data=form | {"password": "a long enough phrase", "roles": "scorer"})
    assert r.status_code == 422 and 'id="email-error"' in r.text


def test_only_admins(app, factory, admin):
    chair = factory.user("chair")
    c = TestClient(app, raise_server_exceptions=False)
    assert sign_in(c, chair.email).status_code == 303
    csrf = csrf_of(c.get("/").text)
    for path in (
        "/admin/users",
        f"/admin/users/{admin.id}",
        f"/admin/users/{admin.id}/deactivate",
        "/admin/users/new",
    ):
        assert c.get(path).status_code == 403, path
    r = c.post(f"/admin/users/{admin.id}/password", data={"csrf_token": csrf, "password": "taken over now!"})
    assert r.status_code == 403
    assert c.get("/admin/users/999999").status_code == 403
    assert admin_client(app, admin).get("/admin/users/999999").status_code == 404


def test_ids_are_unique_on_the_users_pages(app, factory, admin):
    from collections import Counter

    user = factory.user("scorer")
    c = admin_client(app, admin)
    page = c.get(f"/admin/users/{user.id}")
    csrf = csrf_of(page.text)
    version = re.search(r'name="version" value="(\d+)"', page.text).group(1)
    pages = [
        c.get("/admin/users"),
        page,
        c.get(f"/admin/users/{user.id}/deactivate"),
        c.get("/admin/users/new"),
        c.post("/admin/users", data={"csrf_token": csrf}),
        c.post(f"/admin/users/{user.id}", data={"csrf_token": csrf, "version": version}),
        c.post(f"/admin/users/{user.id}/password", data={"csrf_token": csrf, "password": "x"}),
    ]
    for r in pages:
        ids = Counter(re.findall(r'\sid="([^"]+)"', r.text))
        assert r.status_code in (200, 422) and not [i for i, n in ids.items() if n > 1], r.url


def test_a_page_past_the_last_says_so(app, admin):
    r = admin_client(app, admin).get("/admin/users", params={"page": "3"})
    assert r.status_code == 200 and "There is no page 3: the 1 user fills 1 page." in text_of(r.text)


def test_the_user_page_links_to_their_history(app, factory, admin):
    user = factory.user("scorer")
    c = admin_client(app, admin)
    page = c.get(f"/admin/users/{user.id}").text
    changes = re.search(r'href="(/audit\?entity_type=user&amp;entity_id=\d+)"', page).group(1)
    acts = re.search(r'href="(/audit\?actor_id=\d+)"', page).group(1)
    created = c.get(html.unescape(changes))
    assert created.status_code == 200 and "user.created" in created.text
    assert c.get(html.unescape(acts)).status_code == 200


def test_the_banner_is_told_from_the_audit_record_of_ones_own_action(app, db, factory, admin):
    user, other = factory.user("scorer"), factory.user("scorer")
    c = admin_client(app, admin)
    page = c.get(f"/admin/users/{user.id}")
    r = c.post(
        f"/admin/users/{user.id}/sign-out", data={"csrf_token": csrf_of(page.text)}, follow_redirects=False
    )
    done = r.headers["location"]
    event_id = re.search(r"\?done=(\d+)$", done).group(1)
    assert 'id="done-banner"' in c.get(done).text
    assert 'id="done-banner"' in c.get(done).text and events(db, "user.signed_out", user.id) == 1  # a reload
    assert 'id="done-banner"' not in c.get(f"/admin/users/{other.id}?done={event_id}").text
    second_admin = factory.user("admin")
    assert 'id="done-banner"' not in admin_client(app, second_admin).get(done).text
    assert c.get(f"/admin/users/{user.id}?done=abc").status_code == 400
