"""The `serr` command and the real server: migrate, demo, check, create-user, and several workers
serving one database without "database is locked"."""

import os
import socket
import subprocess
import sys
import threading
import time

import httpx
import pytest


def serr(database_url, *args, stdin=None, extra_env=None):
    env = {
        **os.environ,
        "SERR_DATABASE_URL": database_url,
        "SERR_ARGON2_TIME_COST": "1",
        "SERR_ARGON2_MEMORY_KIB": "64",
        "SERR_ARGON2_PARALLELISM": "1",
        **(extra_env or {}),
    }
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


@pytest.fixture
def empty_database_url(database_url):
    """A database with no schema at all, as on a fresh machine."""
    from app.migrate import downgrade

    downgrade(database_url, "base")
    return database_url


def test_migrate_demo_check_and_create_user(empty_database_url):
    url = empty_database_url
    r = serr(url, "check")
    assert r.returncode == 1 and "run `serr migrate`" in r.stderr
    assert serr(url, "migrate").returncode == 0
    r = serr(url, "demo")
    assert r.returncode == 0 and "Demo loaded: 40 proposals" in r.stdout
    r = serr(url, "demo")
    assert r.returncode == 1 and "not empty" in r.stderr
    r = serr(url, "demo", "--force")
    assert r.returncode == 0 and "Demo loaded: 80 proposals" in r.stdout, r.stderr
    r = serr(url, "demo", "--if-empty")
    assert r.returncode == 0 and "not loaded" in r.stdout
    r = serr(url, "check")
    assert r.returncode == 0 and "migrations: at head" in r.stdout
    r = serr(
        url,
        "create-user",
        "--email",
        "ops@example.org",
        "--name",
        "Ops",
        "--role",
        "admin",
        "--role",
        "finance",
        "--password-stdin",
        stdin="a-secret-from-stdin\n",
    )
    assert r.returncode == 0 and "roles admin, finance" in r.stdout, r.stderr
    r = serr(
        url,
        "create-user",
        "--email",
        "x@example.org",
        "--name",
        "X",
        "--role",
        "scorer",
        extra_env={"SERR_NEW_USER_PASSWORD": "short"},
    )
    assert r.returncode == 2 and "password" in r.stderr
    r = serr(
        url,
        "create-user",
        "--email",
        "x@example.org",
        "--name",
        "X",
        "--role",
        "scorer",
        extra_env={"SERR_NEW_USER_PASSWORD": "Password1234"},
    )
    assert r.returncode == 2
    assert (
        "serr: password: Choose a password that is harder to guess: this one is in a list of common"
        in r.stderr
    )


def test_production_refuses_the_default_secret(database_url):
    r = serr(database_url, "check", extra_env={"SERR_ENVIRONMENT": "production"})
    assert r.returncode == 2 and "SERR_SECRET_KEY" in r.stderr


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_workers_serve_one_database(empty_database_url):
    url = empty_database_url
    assert serr(url, "migrate").returncode == 0
    assert serr(url, "demo").returncode == 0
    port = free_port()
    env = {**os.environ, "SERR_DATABASE_URL": url}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "app.cli",
            "serve",
            "--port",
            str(port),
            "--workers",
            "2",
            "--log-level",
            "warning",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            pytest.fail("server did not become ready")
        tok = httpx.post(
            f"{base}/api/v1/auth/token", data={"username": "admin@example.org", "password": "demo-password"}
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {tok}"}
        principles = httpx.get(f"{base}/api/v1/principles", headers=headers)
        assert principles.json()["total"] == 12
        # the real server sends the security headers, and no banner naming the server software
        assert principles.headers["x-content-type-options"] == "nosniff"
        assert "server" not in principles.headers
        assert httpx.get(f"{base}/api/v1/proposals", headers=headers).json()["total"] == 40
        codes = []

        def create(i):
            with httpx.Client(timeout=60) as c:
                for j in range(5):
                    r = c.post(
                        f"{base}/api/v1/proposals",
                        headers=headers,
                        json={
                            "cycle_id": 1,
                            "title": f"Parallel {i}-{j}",
                            "capability": "Estates",
                            "kind": "efficiency",
                            "lead": "L",
                            "financials": [{"year": "2022-23", "cost": "1.00"}],
                        },
                    )
                    codes.append(r.status_code)

        threads = [threading.Thread(target=create, args=(i,)) for i in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert codes == [201] * 30
        assert httpx.get(f"{base}/api/v1/proposals", headers=headers).json()["total"] == 70
    finally:
        proc.terminate()
        out = proc.communicate(timeout=30)[0]
    assert "database is locked" not in out


def test_verify_submission_command(database_url):
    assert serr(database_url, "demo").returncode == 0
    from fastapi.testclient import TestClient

    from app.main import create_app
    from tests.conftest import make_settings

    app = create_app(make_settings(database_url))
    with TestClient(app) as c:
        tok = c.post(
            "/api/v1/auth/token", data={"username": "finance@example.org", "password": "demo-password"}
        )
        headers = {"Authorization": f"Bearer {tok.json()['access_token']}"}
        # the demo cycle is in scoring; submissions are issued once it is in moderation
        admin = c.post(
            "/api/v1/auth/token", data={"username": "admin@example.org", "password": "demo-password"}
        )
        r = c.post(
            "/api/v1/cycles/1/transition",
            json={"to": "moderation"},
            headers={"Authorization": f"Bearer {admin.json()['access_token']}"},
        )
        assert r.status_code == 200, r.text
        weightings = c.get("/api/v1/cycles/1/weightings", headers=headers).json()["items"]
        assert [w["name"] for w in weightings] == ["Equal weights", "Digital and consistency first"]
        r = c.post(
            "/api/v1/cycles/1/submissions",
            headers=headers,
            json={"title": "Demo submission", "weighting_id": weightings[1]["id"], "selection": {}},
        )
        assert r.status_code == 201, r.text
        sid = r.json()["id"]
    app.state.db.dispose()
    r = serr(database_url, "verify-submission", str(sid))
    assert r.returncode == 0 and "verified" in r.stdout, r.stderr
    assert serr(database_url, "verify-submission", "999").returncode == 2
