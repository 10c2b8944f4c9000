"""Web sign-in rules, without a browser: CSRF, idle timeout, server-side sign-out, page errors."""

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from app.models import WebSession


def sign_in(client, email, password="correct-horse-battery"):
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    return client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": token, "next": "/"},
        follow_redirects=False,
    )


def csrf_of(html):
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def test_sign_in_cookie_and_generic_failure(client, factory):
    user = factory.user("proposer")
    bad = sign_in(client, user.email, "wrong-password-1")
    assert bad.status_code == 401 and "Incorrect email or password." in bad.text
    unknown = sign_in(client, "nobody@example.org", "wrong-password-1")
    assert unknown.status_code == 401 and "Incorrect email or password." in unknown.text
    r = sign_in(client, user.email)
    assert r.status_code == 303 and r.headers["location"] == "/"
    cookie = r.headers["set-cookie"]
    assert (
        "serr_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")
    )
    assert "Secure" not in cookie  # test environment; production sets it
    assert client.get("/").status_code == 200


def test_login_form_needs_its_token(client, factory):
    user = factory.user("proposer")
    client.get("/login")
    r = client.post(
        "/login", data={"email": user.email, "password": "correct-horse-battery", "csrf_token": "x"}
    )
    assert r.status_code == 403 and "expired" in r.text


def test_posts_without_csrf_are_refused(client, factory, admin):
    proposer = factory.user("proposer")
    factory.cycle(admin)
    sign_in(client, proposer.email)
    r = client.post("/proposals/new", data={"cycle_id": "1", "title": "Forged"})
    assert r.status_code == 403 and "security token" in r.text
    assert client.get("/proposals").text.count("Forged") == 0


def test_idle_timeout_and_server_side_sign_out(client, factory, db):
    user = factory.user("scorer")
    sign_in(client, user.email)
    with db.unit_of_work() as s:
        s.execute(update(WebSession).values(last_seen_at=datetime.now(UTC) - timedelta(minutes=31)))
    r = client.get("/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/&expired=1"
    sign_in(client, user.email)
    cookie = client.cookies.get("serr_session")
    home = client.get("/")
    r = client.post("/logout", data={"csrf_token": csrf_of(home.text)}, follow_redirects=False)
    assert r.status_code == 303
    client.cookies.set("serr_session", cookie)  # a copied cookie is dead once signed out
    assert client.get("/", follow_redirects=False).status_code == 303


def test_pages_show_errors_as_pages(client, factory):
    user = factory.user("finance")
    sign_in(client, user.email)
    r = client.get("/proposals/99999")
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
    assert "does not exist" in r.text
    assert client.get("/admin").status_code == 403


def test_proposer_drafts_then_submits(client, factory, admin):
    proposer = factory.user("proposer")
    cycle = factory.cycle(admin)
    sign_in(client, proposer.email)
    form = client.get(f"/proposals/new?cycle_id={cycle['id']}")
    data = {
        "csrf_token": csrf_of(form.text),
        "cycle_id": str(cycle["id"]),
        "title": "Draft idea",
        "capability": "People",
        "kind": "investment",
        "lead": "Ms A",
        "action": "draft",
        "cost_2022-23": "1000.00",
    }
    r = client.post("/proposals/new", data=data, follow_redirects=False)
    assert r.status_code == 303
    page = client.get(r.headers["location"])
    assert "Draft saved." in page.text and "Check and submit" in page.text
    version = re.search(r'name="version" value="(\d+)"', page.text).group(1)
    pid = r.headers["location"].split("/")[2].split("?")[0]
    r = client.post(
        f"/proposals/{pid}/check",
        data={"csrf_token": csrf_of(page.text), "version": version},
        follow_redirects=False,
    )
    assert r.status_code == 303
    got = client.get(f"/api/v1/proposals/{pid}", headers=proposer.headers).json()
    assert got["status"] == "submitted" and got["financials"][0]["cost"] == "1000.00"
