"""The pages and the API reference run under their Content-Security-Policy with not one violation, and
still work: the weightings form's script, the ranking chart, the heat map's colours, Swagger UI."""

from __future__ import annotations

from tests.browser.conftest import sign_in

# Every violation the page sees (a `securitypolicyviolation` event), kept on the page's window.
LISTEN = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  const where = `${e.sourceFile}:${e.lineNumber}`;
  window.__csp.push(`${e.effectiveDirective} blocked ${e.blockedURI || "inline"} at ${where}`);
});
"""


def test_pages_and_docs_have_no_csp_violations(browser, live_server):
    base, pid = live_server["base"], live_server["proposal_ids"][2]
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    context.add_init_script(LISTEN)
    page = context.new_page()
    page.set_default_timeout(15_000)
    console: list[str] = []
    page.on(
        "console",
        lambda m: console.append(f"{page.url}: {m.text}") if "Content Security Policy" in m.text else None,
    )
    violations: list[str] = []

    def visit(path: str) -> None:
        response = page.goto(f"{base}{path}")
        assert response is not None and response.status == 200, (path, response and response.status)
        assert "content-security-policy" in response.headers
        violations.extend(f"{path}: {v}" for v in page.evaluate("window.__csp"))

    try:
        sign_in(page, base, "admin")
        violations.extend(f"/: {v}" for v in page.evaluate("window.__csp"))
        page.get_by_role("link", name="Browser panel").first.click()
        panel_path = page.url.removeprefix(base)
        for path in (
            "/proposals",
            f"/proposals/{pid}",
            "/ranking",
            "/submissions",
            "/admin",
            "/admin/locks",
            "/account",
        ):
            visit(path)
            if path == "/ranking":
                assert page.locator("svg.chart rect.bar").count() > 0
        visit(f"{panel_path}?proposal_id={pid}")
        # the heat map's colours come from the stylesheet's classes, not from inline style
        cell = page.locator("table.heat td.cell").first
        assert cell.evaluate("e => getComputedStyle(e).backgroundColor") not in ("", "rgba(0, 0, 0, 0)")
        visit(f"/weightings?cycle_id={live_server['cycle_id']}")
        page.locator("#points_1").fill("30")
        assert page.locator("#share-1").inner_text() == "100.0%"  # the page's script ran
        visit("/cycles/new")
        page.locator("#scale_max").fill("6")
        page.locator("#scale_max").press("Tab")
        assert page.locator("#label_6").count() == 1  # the cycle form's script ran
        visit("/docs")
        page.locator(".opblock").first.wait_for()  # Swagger UI built the operations from /openapi.json
        violations.extend(f"/docs: {v}" for v in page.evaluate("window.__csp"))
        # ReDoc needs inline styles and a worker (its page's policy allows those, nothing more); the one
        # thing it would fetch from elsewhere, a vendor logo, is refused.
        page.goto(f"{base}/redoc")
        page.locator("[data-section-id]").first.wait_for()
        refused = page.evaluate("window.__csp")
        assert refused and all(v.startswith("img-src blocked https://") for v in refused), refused
        console[:] = [m for m in console if "/redoc" not in m.split(": ")[0]]
        page.goto(f"{base}/")
        page.get_by_role("button", name="Sign out").click()
        page.wait_for_url(f"{base}/login")
        sign_in(page, base, "scorer3")
        visit(f"/proposals/{live_server['proposal_ids'][0]}/score")
        assert page.locator("input[name=score_1]").count() > 0
    finally:
        context.close()
    assert violations == [] and console == []
