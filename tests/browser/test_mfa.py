"""A second factor in a real browser: set it up from the account page by reading the key off the page, sign
out, and sign in again with the password and then a code from the app (computed here with pyotp)."""

import time

import pyotp

from tests.browser.conftest import PASSWORD, own_user_signed_in, shot


def test_enrol_sign_out_and_sign_in_with_a_code(page, live_server):
    base = live_server["base"]
    violations = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    own_user_signed_in(page, base, "mfa@example.org", "Two Factor", ["finance"])

    page.goto(f"{base}/account")
    page.get_by_role("link", name="Set up or manage your second factor").click()
    page.get_by_role("button", name="Set up a second factor").click()
    page.wait_for_url(f"{base}/account/mfa")
    assert page.locator("figure.qr svg").is_visible()
    secret = page.get_by_label("Key, to type by hand", exact=False).input_value().replace(" ", "")
    shot(page, "mfa-enrol")
    page.get_by_label("Code from the app").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Confirm").click()
    assert page.locator("#recovery-codes li").count() == 10
    page.get_by_role("link", name="I have kept them: continue").click()
    page.wait_for_url(f"{base}/account/mfa")
    assert "Your second factor is on" in page.locator("main").inner_text()

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{base}/login")
    page.get_by_label("Email address").fill("mfa@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/login/mfa")
    page.goto(f"{base}/account")  # nothing opens before the code
    page.wait_for_url(f"{base}/login?**")
    page.goto(f"{base}/login/mfa")
    # The code of the next time step: the one used to confirm is spent, and one step ahead is allowed.
    page.get_by_label("Code").fill(pyotp.TOTP(secret).at(time.time() + 30))
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(f"{base}/")
    assert "Two Factor" in page.locator("header").inner_text()
    assert violations == []
