"""Multi-factor sign-in (TOTP): enrolment, codes, replay, recovery codes, the API token, the web's two steps.

The module's settings make finance a role that needs a second factor; a scorer enrols of their own accord.
The TOTP clock (``app.auth.mfa.now``) is moved by the tests instead of sleeping.
"""

import re
from datetime import UTC, datetime, timedelta

import pyotp
import pytest
from sqlalchemy import select

from app.auth import mfa
from app.main import API_PREFIX
from app.models import AuditEvent, MfaRecoveryCode, UserMfa
from tests.api.test_web_sessions import csrf_of, sign_in
from tests.conftest import make_settings

START = datetime(2026, 11, 29, 12, 0, 5, tzinfo=UTC)


@pytest.fixture
def settings(database_url):
    return make_settings(database_url, mfa_required_roles=["finance"])


@pytest.fixture
def clock(monkeypatch):
    """The TOTP clock, at START; ``clock.tick()`` moves it one 30-second step on."""

    class Clock:
        at = START

        def tick(self, steps: int = 1) -> None:
            self.at += timedelta(seconds=30 * steps)

        def code(self, secret: str) -> str:
            return pyotp.TOTP(secret).at(self.at)

    c = Clock()
    monkeypatch.setattr(mfa, "now", lambda: c.at)
    return c


def enrol(client, actor, clock) -> tuple[str, list[str]]:
    """Enrol ``actor`` through the API; the secret and the recovery codes."""
    r = client.post(f"{API_PREFIX}/users/me/mfa", headers=actor.headers)
    assert r.status_code == 201, r.text
    secret = r.json()["secret"]
    assert r.json()["otpauth_uri"].startswith("otpauth://totp/") and secret in r.json()["otpauth_uri"]
    r = client.post(
        f"{API_PREFIX}/users/me/mfa/confirm", headers=actor.headers, json={"code": clock.code(secret)}
    )
    assert r.status_code == 200, r.text
    return secret, r.json()["recovery_codes"]


def token(client, actor, password="correct-horse-battery", **extra):
    return client.post(
        f"{API_PREFIX}/auth/token", data={"username": actor.email, "password": password, **extra}
    )


def events(db, action, user_id=None):
    with db.unit_of_work(write=False) as session:
        stmt = select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        if user_id is not None:
            stmt = stmt.where(AuditEvent.entity_id == str(user_id))
        return list(session.scalars(stmt))


def test_enrol_confirm_wrong_code_and_secret_kept_sealed(client, factory, db, clock):
    scorer = factory.user("scorer")
    status = client.get(f"{API_PREFIX}/users/me/mfa", headers=scorer.headers).json()
    assert status == {
        "enrolled": False,
        "required": False,
        "confirmed_at": None,
        "enrolment_pending": False,
        "recovery_codes_left": 0,
    }
    secret = client.post(f"{API_PREFIX}/users/me/mfa", headers=scorer.headers).json()["secret"]
    assert (
        client.get(f"{API_PREFIX}/users/me/mfa", headers=scorer.headers).json()["enrolment_pending"] is True
    )
    # Not in force before it is confirmed: the password alone still gives a token.
    assert token(client, scorer).status_code == 200
    wrong = str((int(clock.code(secret)) + 1) % 1_000_000).zfill(6)
    r = client.post(f"{API_PREFIX}/users/me/mfa/confirm", headers=scorer.headers, json={"code": wrong})
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    assert r.json()["errors"][0]["loc"] == ["body", "code"]
    assert client.get(f"{API_PREFIX}/users/me/mfa", headers=scorer.headers).json()["enrolled"] is False
    failed = events(db, "mfa.failed", scorer.id)
    assert [e.outcome for e in failed] == ["failure"] and failed[0].client_address == "testclient"
    r = client.post(
        f"{API_PREFIX}/users/me/mfa/confirm", headers=scorer.headers, json={"code": clock.code(secret)}
    )
    assert r.status_code == 200
    codes = r.json()["recovery_codes"]
    assert len(codes) == 10 and len(set(codes)) == 10
    status = client.get(f"{API_PREFIX}/users/me/mfa", headers=scorer.headers).json()
    assert status["enrolled"] is True and status["recovery_codes_left"] == 10
    assert client.post(f"{API_PREFIX}/users/me/mfa", headers=scorer.headers).status_code == 409
    # Stored: the secret sealed, recovery codes as digests; neither in the audit trail.
    with db.unit_of_work(write=False) as session:
        row = session.get(UserMfa, scorer.id)
        digests = list(session.scalars(select(MfaRecoveryCode.digest)))
        trail = " ".join(str(e.changes) for e in session.scalars(select(AuditEvent)))
    assert secret not in row.secret_sealed and mfa.unseal(factory.settings, row.secret_sealed) == secret
    assert not {c.replace("-", "") for c in codes} & set(digests)
    assert secret not in trail and not any(c in trail for c in codes) and clock.code(secret) not in trail
    assert [e.outcome for e in events(db, "mfa.enrolled", scorer.id)] == ["success"]


def test_token_needs_the_code_and_a_code_works_once(client, factory, db, clock):
    finance = factory.user("finance")
    secret, codes = enrol(client, finance, clock)
    r = token(client, finance)
    assert r.status_code == 401 and r.json()["type"] == "/problems/second-factor-required"
    assert "totp" in r.json()["detail"]
    assert token(client, finance, password="wrong-password-123", totp=clock.code(secret)).status_code == 401
    # The code used to confirm enrolment is spent: the same step is refused.
    replay = token(client, finance, totp=clock.code(secret))
    assert replay.status_code == 401 and replay.json()["errors"][0]["loc"] == ["body", "totp"]
    clock.tick()
    code = clock.code(secret)
    ok = token(client, finance, totp=code)
    assert ok.status_code == 200 and ok.json()["access_token"]
    again = token(client, finance, totp=code)
    assert again.status_code == 401, "a code accepted once is refused again"
    # An earlier step, still within the drift allowed, is refused too once a later one was used.
    clock.tick()
    assert (
        token(client, finance, totp=pyotp.TOTP(secret).at(clock.at - timedelta(seconds=60))).status_code
        == 401
    )
    reasons = [e.changes["reason"] for e in events(db, "auth.login_failed", finance.id)]
    assert reasons.count("wrong second factor") == 3 and reasons.count("second factor missing") == 1
    # A recovery code stands in for a code, once.
    assert token(client, finance, totp=codes[0].upper()).status_code == 200
    assert token(client, finance, totp=codes[0]).status_code == 401
    used = events(db, "mfa.verified", finance.id)[-1]
    assert used.changes["factor"] == "recovery" and used.changes["recovery_codes_left"] == 9
    # Personal tokens stay the way scripts authenticate: no code on each request.
    clock.tick()
    fresh = token(client, finance, totp=clock.code(secret)).json()["access_token"]
    personal = client.post(
        f"{API_PREFIX}/users/me/tokens", headers={"Authorization": f"Bearer {fresh}"}, json={"name": "script"}
    ).json()["token"]
    assert (
        client.get(f"{API_PREFIX}/users/me", headers={"Authorization": f"Bearer {personal}"}).status_code
        == 200
    )


def test_required_role_not_enrolled_gets_no_token(client, factory, db):
    finance = factory.user("finance")
    r = token(client, finance)
    assert r.status_code == 403 and r.json()["type"] == "/problems/mfa-enrolment-required"
    assert "web" in r.json()["detail"]
    assert token(client, factory.user("scorer")).status_code == 200  # not a required role


def test_recovery_codes_regenerate_disable_and_admin_reset(client, factory, db, admin, clock):
    scorer = factory.user("scorer")
    secret, codes = enrol(client, scorer, clock)
    url = f"{API_PREFIX}/users/me/mfa"
    clock.tick()
    r = client.post(f"{url}/recovery-codes", headers=scorer.headers, json={"code": clock.code(secret)})
    assert r.status_code == 200 and not set(r.json()["recovery_codes"]) & set(codes)
    new_codes = r.json()["recovery_codes"]
    assert [e.outcome for e in events(db, "mfa.recovery_codes_regenerated", scorer.id)] == ["success"]
    assert [e.outcome for e in events(db, "mfa.enrolment_started", scorer.id)] == ["success"]
    assert client.post(f"{url}/disable", headers=scorer.headers, json={"code": codes[0]}).status_code == 422
    assert (
        client.post(f"{url}/disable", headers=scorer.headers, json={"code": new_codes[1]}).status_code == 204
    )
    assert client.get(url, headers=scorer.headers).json()["enrolled"] is False
    assert [e.changes["factor"] for e in events(db, "mfa.disabled", scorer.id)] == ["recovery"]
    assert token(client, scorer).status_code == 200
    # An admin resets a user who lost the device; audited with the admin as actor.
    secret, _ = enrol(client, scorer, clock)
    assert client.delete(f"{API_PREFIX}/users/{scorer.id}/mfa", headers=scorer.headers).status_code == 403
    assert client.delete(f"{API_PREFIX}/users/{scorer.id}/mfa", headers=admin.headers).status_code == 204
    assert client.delete(f"{API_PREFIX}/users/{scorer.id}/mfa", headers=admin.headers).status_code == 409
    reset = events(db, "mfa.reset", scorer.id)
    assert [(e.actor_id, e.outcome) for e in reset] == [(admin.id, "success")]
    with db.unit_of_work(write=False) as session:
        assert session.scalar(select(MfaRecoveryCode).where(MfaRecoveryCode.user_id == scorer.id)) is None
    assert token(client, scorer).status_code == 200


def test_wrong_codes_in_a_row_pause_code_checks(client, factory, db, clock):
    scorer = factory.user("scorer")
    secret, _ = enrol(client, scorer, clock)
    url = f"{API_PREFIX}/users/me/mfa/disable"
    for _ in range(mfa.MAX_FAILURES):
        assert client.post(url, headers=scorer.headers, json={"code": "000000"}).status_code == 422
    clock.tick()
    r = client.post(url, headers=scorer.headers, json={"code": clock.code(secret)})
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
    assert events(db, "mfa.failed", scorer.id)[-1].outcome == "denied"
    clock.tick(31)  # the pause (15 minutes) is over
    assert client.post(url, headers=scorer.headers, json={"code": clock.code(secret)}).status_code == 204


def test_web_sign_in_asks_for_the_code_after_the_password(client, factory, db, clock):
    scorer = factory.user("scorer")
    secret, _ = enrol(client, scorer, clock)
    r = sign_in(client, scorer.email)
    assert r.status_code == 303 and r.headers["location"] == "/login/mfa"
    assert "serr_session" not in r.headers["set-cookie"] and "serr_mfa=" in r.headers["set-cookie"]
    # Pending: no page but the code step.
    assert client.get("/", follow_redirects=False).headers["location"].startswith("/login")
    page = client.get("/login/mfa")
    assert page.status_code == 200 and 'name="code"' in page.text
    csrf = csrf_of(page.text)
    bad = client.post("/login/mfa", data={"csrf_token": csrf, "code": "123456"}, follow_redirects=False)
    assert bad.status_code == 401 and "not right" in bad.text
    assert client.get("/", follow_redirects=False).status_code == 303
    assert events(db, "auth.web_login_failed", scorer.id)[-1].changes["reason"] == "wrong second factor"
    clock.tick()
    ok = client.post(
        "/login/mfa", data={"csrf_token": csrf, "code": clock.code(secret)}, follow_redirects=False
    )
    assert ok.status_code == 303 and ok.headers["location"] == "/"
    assert client.get("/", follow_redirects=False).status_code == 200
    assert events(db, "auth.web_login", scorer.id)[-1].changes == {"second_factor": "totp"}
    # The pending sign-in is spent.
    assert client.get("/login/mfa", follow_redirects=False).status_code == 303


def test_web_pending_sign_in_ends_after_five_wrong_codes(client, factory, clock):
    scorer = factory.user("scorer")
    secret, _ = enrol(client, scorer, clock)
    sign_in(client, scorer.email)
    csrf = csrf_of(client.get("/login/mfa").text)
    for n in range(1, 6):
        r = client.post("/login/mfa", data={"csrf_token": csrf, "code": f"99999{n}"}, follow_redirects=False)
        assert r.status_code == 401
    assert "Sign in again" in r.text
    clock.tick()
    late = client.post(
        "/login/mfa", data={"csrf_token": csrf, "code": clock.code(secret)}, follow_redirects=False
    )
    assert late.status_code == 303 and late.headers["location"].startswith("/login?")
    assert client.get("/", follow_redirects=False).status_code == 303


def test_web_required_role_is_sent_to_enrolment_first(client, factory, db, clock):
    finance = factory.user("finance")
    r = sign_in(client, finance.email)
    assert r.status_code == 303 and r.headers["location"] == "/login/mfa/enrol"
    assert client.get("/", follow_redirects=False).status_code == 303
    page = client.get("/login/mfa/enrol")
    assert page.status_code == 200 and "<svg" in page.text and "style=" not in page.text.split("<svg", 1)[1]
    secret = (
        re.search(r'id="mfa-secret" class="secret" value="([A-Z2-7 ]+)"', page.text).group(1).replace(" ", "")
    )
    done = client.post(
        "/login/mfa/enrol",
        data={"csrf_token": csrf_of(page.text), "code": clock.code(secret)},
        follow_redirects=False,
    )
    assert (
        done.status_code == 200
        and len(re.findall(r"<li><code>[a-z2-9]{5}-[a-z2-9]{5}</code></li>", done.text)) == 10
    )
    assert client.get("/", follow_redirects=False).status_code == 200
    assert client.get(f"{API_PREFIX}/users/me/mfa", headers=finance.headers).json()["enrolled"] is True
    assert events(db, "mfa.enrolled", finance.id)


def test_web_admin_removes_a_lost_second_factor(client, factory, db, admin, clock):
    scorer = factory.user("scorer")
    enrol(client, scorer, clock)
    assert sign_in(client, admin.email).status_code == 303
    page = client.get("/admin/mfa")
    assert page.status_code == 200 and scorer.email in page.text
    r = client.post(
        f"/admin/mfa/{scorer.id}/reset", data={"csrf_token": csrf_of(page.text)}, follow_redirects=False
    )
    assert r.status_code == 303 and r.headers["location"] == "/admin/mfa?saved=reset"
    assert scorer.email not in client.get("/admin/mfa").text
    assert [(e.actor_id, e.outcome) for e in events(db, "mfa.reset", scorer.id)] == [(admin.id, "success")]
    assert token(client, scorer).status_code == 200


def test_command_line_removes_a_second_factor(client, factory, db, settings, clock, monkeypatch, capsys):
    from app import cli

    monkeypatch.setattr(cli, "_settings", lambda: settings)
    admin = factory.user("admin")
    enrol(client, admin, clock)
    assert cli.main(["reset-mfa", "--email", admin.email.upper()]) == 0
    assert "Removed the second factor" in capsys.readouterr().out
    assert client.get(f"{API_PREFIX}/users/me/mfa", headers=admin.headers).json()["enrolled"] is False
    event = events(db, "mfa.reset", admin.id)[-1]
    assert event.actor_id is None and event.changes["by"] == "command line"
    assert cli.main(["reset-mfa", "--email", admin.email]) == 1
    assert cli.main(["reset-mfa", "--email", "nobody@example.org"]) == 1


def test_web_account_page_regenerates_and_turns_off(client, factory, db, clock):
    scorer = factory.user("scorer")
    assert sign_in(client, scorer.email).status_code == 303
    page = client.get("/account/mfa")
    assert "Your second factor is <strong>off</strong>" in page.text
    client.post("/account/mfa/start", data={"csrf_token": csrf_of(page.text)})
    page = client.get("/account/mfa")
    csrf = csrf_of(page.text)
    secret = (
        re.search(r'id="mfa-secret" class="secret" value="([A-Z2-7 ]+)"', page.text).group(1).replace(" ", "")
    )
    done = client.post("/account/mfa/confirm", data={"csrf_token": csrf, "code": clock.code(secret)})
    assert done.status_code == 200 and done.text.count("<li><code>") == 10
    page = client.get("/account/mfa")
    assert "Your second factor is <strong>on</strong>" in page.text and secret not in page.text.replace(
        " ", ""
    )
    clock.tick()
    again = client.post("/account/mfa/recovery-codes", data={"csrf_token": csrf, "code": clock.code(secret)})
    assert again.status_code == 200 and "earlier ones no longer work" in again.text
    wrong = client.post("/account/mfa/disable", data={"csrf_token": csrf, "code": clock.code(secret)})
    assert wrong.status_code == 422 and 'id="code-error"' in wrong.text  # that code was just used
    clock.tick()
    off = client.post(
        "/account/mfa/disable", data={"csrf_token": csrf, "code": clock.code(secret)}, follow_redirects=False
    )
    assert off.status_code == 303 and off.headers["location"] == "/account/mfa?saved=off"
    assert [e.outcome for e in events(db, "mfa.disabled", scorer.id)] == ["success"]


def test_required_roles_default_by_environment():
    from app.config import Settings

    key = "k" * 40
    assert Settings(environment="production", secret_key=key).roles_needing_mfa == {"admin", "finance"}
    assert Settings(environment="development").roles_needing_mfa == frozenset()
    assert Settings(environment="test").roles_needing_mfa == frozenset()
    chosen = Settings(environment="production", secret_key=key, mfa_required_roles=["chair"])
    assert chosen.roles_needing_mfa == {"chair"}
    assert (
        Settings(environment="production", secret_key=key, mfa_required_roles=[]).roles_needing_mfa == set()
    )
