"""Browser tests: a real service (uvicorn, SQLite) driven by headless Chromium through Playwright."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest
import uvicorn
from axe_playwright_python.sync_playwright import Axe

from app.main import create_app
from app.migrate import upgrade
from tests.conftest import make_settings

CHROMIUM = os.environ.get("SERR_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "screenshots"
PASSWORD = "browser-password"
AXE_SCRIPT = Axe().axe_script  # axe-core, from the package (nothing is fetched)
# WCAG 2.0, 2.1 and 2.2 at levels A and AA
AXE_OPTIONS = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]},
    "resultTypes": ["violations"],
}


def pytest_collection_modifyitems(config, items):
    """Without Chromium the browser tests are skipped with a message locally; in CI they run (and fail).

    Under pytest-xdist (``make test``) the browser tests form one group, so they share one worker's
    Chromium and live server instead of starting one of each per worker."""
    browser_items = [item for item in items if "tests/browser" in str(item.fspath)]
    for item in browser_items:
        item.add_marker(pytest.mark.xdist_group("browser"))
    if shutil.which(CHROMIUM) or os.environ.get("CI", "").lower() == "true":
        return
    skip = pytest.mark.skip(
        reason=f"Chromium not found at {CHROMIUM}: install Debian's chromium package "
        "(.ci/run does) to run the browser tests"
    )
    for item in browser_items:
        item.add_marker(skip)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _seed(db, settings) -> dict:
    """Two cycles: one in scoring with a panel (a second scorer already submitted), one open for proposals."""
    from app.cycles.schemas import CycleCreate, Transition
    from app.cycles.service import create_cycle, transition
    from app.panels.schemas import PanelCreate
    from app.panels.service import create_panel
    from app.proposals.schemas import ProposalCreate
    from app.proposals.service import create_proposal
    from app.scorecards.schemas import ScorecardPut
    from app.scorecards.service import save
    from app.users.schemas import UserCreate
    from app.users.service import create_user
    from app.weightings.schemas import WeightingCreate
    from app.weightings.service import create_weighting

    with db.unit_of_work() as s:
        users = {}
        for handle, roles in [
            ("admin", ["admin"]),
            ("chair", ["chair"]),
            ("scorer", ["scorer"]),
            ("scorer2", ["scorer"]),
            ("scorer3", ["scorer"]),
            ("finance", ["finance"]),
            ("proposer", ["proposer"]),
        ]:
            users[handle] = create_user(
                s,
                settings,
                None,
                UserCreate(
                    email=f"{handle}@example.org",
                    full_name=handle.capitalize(),
                    password=PASSWORD,
                    roles=roles,
                ),
            )
        admin = users["admin"]
        cycle = create_cycle(
            s,
            admin,
            CycleCreate(
                name="Browser SR",
                financial_years=["2022-23", "2023-24"],
                budgets={"2022-23": "900000.00", "2023-24": "900000.00"},
                min_scorecards=1,  # the ranking shows proposals with one or two scorecards of three
            ),
        )
        transition(s, admin, cycle, Transition(to="open"))
        proposals = []
        for ref, title, cost in [
            ("B-1", "Shared forensic hub", "400000"),
            ("B-2", "Digital intelligence desk", "300000"),
            ("B-3", "Regional estate merger", "600000"),
        ]:
            proposals.append(
                create_proposal(
                    s,
                    admin,
                    ProposalCreate(
                        cycle_id=cycle.id,
                        reference=ref,
                        title=title,
                        capability="Estates",
                        kind="efficiency",
                        lead="L",
                        summary=f"{title}: the case.",
                        financials=[{"year": "2022-23", "cost": cost}],
                        self_assessment={"7": "Automates the work."},
                    ),
                    cycle=cycle,
                )
            )
        panel = create_panel(
            s,
            users["chair"],
            cycle.id,
            PanelCreate(
                name="Browser panel",
                member_ids=[users["scorer"].id, users["scorer2"].id, users["scorer3"].id],
                proposal_ids=[p.id for p in proposals],
            ),
        )
        transition(s, admin, cycle, Transition(to="scoring"))
        # scorer2: B-1 all 1s, B-2 all 4s except principle 1 = 1, B-3 all 2s except principle 1 = 5
        plans = {
            0: {k: 1 for k in range(1, 13)},
            1: {k: (1 if k == 1 else 4) for k in range(1, 13)},
            2: {k: (5 if k == 1 else 2) for k in range(1, 13)},
        }
        for i, p in enumerate(proposals):
            save(
                s,
                users["scorer2"],
                p.id,
                ScorecardPut.model_validate(
                    {
                        "submit": True,
                        "scores": [
                            {"principle": k, "score": v, "rationale": "Seeded"} for k, v in plans[i].items()
                        ],
                    }
                ),
            )
        # scorer3 disagrees on B-3 by 3 points on every principle: all twelve cells need moderation
        save(
            s,
            users["scorer3"],
            proposals[2].id,
            ScorecardPut.model_validate(
                {
                    "submit": True,
                    "scores": [
                        {"principle": k, "score": 2 if k == 1 else 5, "rationale": "Seeded"}
                        for k in range(1, 13)
                    ],
                }
            ),
        )
        create_weighting(
            s,
            users["chair"],
            cycle.id,
            WeightingCreate(name="Principle 1 only", method="direct", weights={"1": 1}),
        )
        open_cycle = create_cycle(
            s, admin, CycleCreate(name="Open SR", financial_years=["2025-26", "2026-27"])
        )
        transition(s, admin, open_cycle, Transition(to="open"))
        return {
            "cycle_id": cycle.id,
            "open_cycle_id": open_cycle.id,
            "proposal_ids": [p.id for p in proposals],
            "panel_id": panel.id,
        }


@pytest.fixture(scope="session")
def live_server(tmp_path_factory):
    path = tmp_path_factory.mktemp("browser") / "serr.db"
    url = f"sqlite:///{path}"
    upgrade(url)
    settings = make_settings(url)
    app = create_app(settings)
    data = _seed(app.state.db, settings)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(100):
        if server.started:
            break
        time.sleep(0.05)
    yield {"base": f"http://127.0.0.1:{port}", "database_url": url, **data}
    server.should_exit = True
    thread.join(10)


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1200, "height": 900}, accept_downloads=True)
    pg = context.new_page()
    pg.set_default_timeout(15_000)
    yield pg
    context.close()


def shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def sign_in(page, base: str, who: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("Email address").fill(f"{who}@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/")


def own_user_signed_in(page, base: str, email: str, full_name: str, roles: list[str]) -> None:
    """A user of the test's own (made through the API as the seeded admin), signed in on ``page``: for
    tests that change a user's password or second factor, so that the shared users keep theirs."""
    api = page.request
    admin = api.post(
        f"{base}/api/v1/auth/token", form={"username": "admin@example.org", "password": PASSWORD}
    ).json()["access_token"]
    r = api.post(
        f"{base}/api/v1/users",
        headers={"Authorization": f"Bearer {admin}"},
        data={"email": email, "full_name": full_name, "password": PASSWORD, "roles": roles},
    )
    assert r.status == 201, r.text()
    page.goto(f"{base}/login")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/")


def viewport_shot(page, folder: Path, name: str) -> None:
    """The viewport only (small files), at the page's current width, as ``folder/name.png``."""
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"))


def axe_violations(page, where: str) -> list[str]:
    """axe-core's violations on the page as it is now (``AXE_SCRIPT`` loads with each page), one line each."""
    out = []
    for v in page.evaluate("options => axe.run(document, options)", AXE_OPTIONS)["violations"]:
        targets = "; ".join(" ".join(node["target"]) for node in v["nodes"])
        out.append(f"{where}: {v['id']} ({v['impact']}): {v['help']} at {targets}")
    return out


def api_token(api, base: str, email: str) -> dict:
    """Bearer headers for a seeded user, through the API's own sign-in."""
    r = api.post(f"{base}/api/v1/auth/token", form={"username": email, "password": PASSWORD})
    assert r.status == 200, r.text()
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def api_ok(r, status=(200, 201)):
    assert r.status in status, r.text()
    return r.json()


def api_open_cycle(api, base: str, headers: dict, fields: dict) -> dict:
    """A cycle made through the API as the given admin and moved to open, ready for proposals."""
    cycle = api_ok(api.post(f"{base}/api/v1/cycles", headers=headers, data=fields))
    api_ok(api.post(f"{base}/api/v1/cycles/{cycle['id']}/transition", headers=headers, data={"to": "open"}))
    return cycle
