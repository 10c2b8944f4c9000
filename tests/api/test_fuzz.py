"""The API contract, fuzzed: schemathesis against the OpenAPI schema of a live instance.

A real ``serr serve`` on a free port, on a fresh migrated database with the demo data (``serr demo``),
is fuzzed as an admin with a personal API token: every check, every phase (examples, coverage,
fuzzing, and the stateful phase that chains operations along the links it infers between them), a
fixed seed, a bounded number of examples per operation (``tests/api/schemathesis.toml``). The run must
end with zero failures; its counts are printed at the end of the test run (``tests/conftest.py``).

SQLite runs in ``make test``; PostgreSQL runs where ``CI=true`` (``.ci/run``) and is skipped elsewhere
with a message, to keep a local ``make test`` short. ``pytest -m fuzz`` runs just this.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import IN_CI

pytestmark = pytest.mark.fuzz

CONFIG = Path(__file__).with_name("schemathesis.toml")
SEED = 20261129
# The whole run (four phases) must end well within this; it takes about a minute and a half.
RUN_TIMEOUT_S = 420
ADMIN = ("admin@example.org", "demo-password")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(database_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "SERR_DATABASE_URL": database_url,
        "SERR_ENVIRONMENT": "test",
        "SERR_SECRET_KEY": "fuzz-secret-key-that-is-long-enough-0123456789",
        "SERR_ARGON2_TIME_COST": "1",
        "SERR_ARGON2_MEMORY_KIB": "64",
        "SERR_ARGON2_PARALLELISM": "1",
    }


def _serr(*args: str) -> list[str]:
    return [sys.executable, "-m", "app.cli", *args]


@pytest.fixture
def live_instance(request, database_url, tmp_path):
    """``serr demo`` then ``serr serve`` on the test's fresh database; yields (base URL, admin token)."""
    if database_url.startswith("postgresql") and not IN_CI:
        pytest.skip("the PostgreSQL fuzz run is CI's (.ci/run, CI=true); run it here with CI=true -m fuzz")
    env = _env(database_url)
    demo = subprocess.run(_serr("demo"), env=env, capture_output=True, text=True, timeout=120)
    assert demo.returncode == 0, demo.stdout + demo.stderr
    port = _free_port()
    log = (tmp_path / "serve.log").open("wb")
    server = subprocess.Popen(
        _serr("serve", "--host", "127.0.0.1", "--port", str(port)), env=env, stdout=log, stderr=log
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None, (tmp_path / "serve.log").read_text()
            assert time.monotonic() < deadline, "the service did not start"
            time.sleep(0.2)
        # An admin's personal API token, as a script would hold one: a fresh sign-in token makes it.
        r = httpx.post(f"{base}/api/v1/auth/token", data={"username": ADMIN[0], "password": ADMIN[1]})
        assert r.status_code == 200, r.text
        signin = r.json()["access_token"]
        r = httpx.post(
            f"{base}/api/v1/users/me/tokens",
            json={"name": "contract fuzzing"},
            headers={"Authorization": f"Bearer {signin}"},
        )
        assert r.status_code == 201, r.text
        yield base, r.json()["token"], tmp_path / "serve.log"
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def _check_counts(ndjson: Path) -> tuple[int, set[str], int]:
    """How many check results the run recorded, of which checks, and how many of them failed."""
    total, failed, names = 0, 0, set()
    with ndjson.open() as events:
        for line in events:
            finished = json.loads(line).get("ScenarioFinished")
            if not finished:
                continue
            for results in (finished.get("recorder") or {}).get("checks", {}).values():
                for result in results:
                    total += 1
                    names.add(result["name"])
                    failed += result["status"] == "failure"
    return total, names, failed


def _summary(database: str, report: dict, ndjson: Path) -> str:
    ops, cases = report["operations"], report["test_cases"]
    checks, names, failed_checks = _check_counts(ndjson)
    failures = sum(f.get("count", 0) for f in report["failures"])
    phases = ", ".join(f"{name} {p['status']}" for name, p in report["phases"].items())
    return "\n".join(
        [
            f"schemathesis {report['schemathesis_version']} on {database}, seed {report['seed']}, "
            f"{report['running_time']:.0f} s",
            f"  operations: {ops['tested']} tested of {ops['selected']} selected ({ops['total']} in all)",
            f"  checks: {checks} run ({len(names)} kinds), {failed_checks} failed",
            f"  examples: {cases['generated']} generated",
            f"  failures: {failures} (errors: {len(report['errors'])})",
            f"  phases: {phases}",
        ]
    )


def test_api_contract_fuzzed_without_failures(live_instance, database_url, tmp_path, record_property):
    base, token, server_log = live_instance
    command = [
        str(Path(sys.executable).with_name("st")),
        "--config-file",
        str(CONFIG),
        "run",
        f"{base}/openapi.json",
        "--seed",
        str(SEED),
        "--header",
        f"Authorization: Bearer {token}",
        "--no-color",
        "--report",
        "json,ndjson",
        "--report-dir",
        str(tmp_path / "report"),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=RUN_TIMEOUT_S, cwd=tmp_path)
    report = json.loads(next((tmp_path / "report").glob("*.json")).read_text())
    database = database_url.split(":", 1)[0].split("+", 1)[0]
    summary = _summary(database, report, next((tmp_path / "report").glob("*.ndjson")))
    record_property("summary", summary)  # printed at the end of the run (tests/conftest.py)
    assert done.returncode == 0, f"{summary}\n\n{done.stdout[-20000:]}\n{done.stderr[-4000:]}"
    assert report["failures"] == [] and report["errors"] == []
    assert report["operations"]["tested"] == report["operations"]["selected"] > 40
    assert all(p["status"] == "success" for p in report["phases"].values()), report["phases"]
    assert "Traceback" not in server_log.read_text()
