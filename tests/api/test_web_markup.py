"""Markup every page keeps: ids unique on the page, and a skip link that shows when focused."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from tests.api.test_web_sessions import sign_in

PAGES = ["/", "/proposals", "/proposals/new", "/weightings", "/ranking", "/submissions", "/admin", "/account"]
CSS = Path(__file__).resolve().parents[2] / "app" / "web" / "static" / "app.css"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_ids_are_unique_on_every_page(client, factory, admin):
    factory.cycle(admin)
    assert sign_in(client, admin.email).status_code == 303
    for path in PAGES:
        r = client.get(path)
        assert r.status_code == 200, (path, r.status_code)
        ids = Counter(re.findall(r'\sid="([^"]+)"', r.text))
        repeated = sorted(i for i, n in ids.items() if n > 1)
        assert not repeated, f"{path} repeats ids {repeated}"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_skip_link_comes_first_and_shows_when_focused(client, factory):
    user = factory.user("proposer")
    sign_in(client, user.email)
    body = client.get("/").text.split("<body>", 1)[1]
    first_link = re.search(r"<a [^>]*>", body).group(0)
    assert 'href="#main"' in first_link and 'class="skip-link"' in first_link
    css = CSS.read_text()
    assert re.search(r"\.skip-link:focus\s*\{[^}]*top:\s*0\.5rem", css)
