"""The account page in a real browser: change one's password, then create and revoke a personal token."""

from tests.browser.conftest import PASSWORD, own_user_signed_in, shot

NEW_PASSWORD = "a quiet harbour at dawn"


def test_change_password_then_create_and_revoke_a_token(page, live_server):
    base, api = live_server["base"], page.request
    own_user_signed_in(page, base, "account@example.org", "Account Holder", ["scorer"])

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Account").click()
    page.wait_for_url(f"{base}/account")
    page.get_by_label("Current password").fill(PASSWORD)
    page.get_by_label("New password", exact=True).fill("password1234")
    page.get_by_label("Type the new password again").fill("password1234")
    page.get_by_role("button", name="Change password").click()
    assert "in a list of common passwords" in page.locator(".error-summary").inner_text()
    assert page.get_by_label("New password", exact=True).get_attribute("aria-invalid") == "true"
    page.get_by_label("Current password").fill(PASSWORD)
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Type the new password again").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Change password").click()
    page.wait_for_url(f"{base}/account?saved=password")
    assert "Your password has been changed." in page.locator("main").inner_text()

    page.get_by_label("What it is for").fill("nightly export")
    page.get_by_label("Days until it expires").fill("7")
    page.get_by_role("button", name="Create token").click()
    secret = page.get_by_label("Token (select it and copy)").input_value()
    assert secret.startswith("serr_") and "shown only this once" in page.locator("#new-token").inner_text()
    bearer = {"Authorization": f"Bearer {secret}"}
    assert api.get(f"{base}/api/v1/users/me", headers=bearer).status == 200

    page.goto(f"{base}/account")
    assert secret not in page.content() and "nightly export" in page.locator("#tokens").inner_text()
    shot(page, "account")
    page.get_by_role("link", name="Revoke nightly export").click()
    page.get_by_role("button", name="Revoke token").click()
    page.wait_for_url(f"{base}/account?saved=revoked")
    assert "revoked" in page.locator("#tokens").inner_text()
    assert api.get(f"{base}/api/v1/users/me", headers=bearer).status == 401
