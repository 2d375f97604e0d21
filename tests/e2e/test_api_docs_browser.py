"""The API's browsable page in a real browser: Swagger UI served by the portal itself renders
every endpoint under the portal's strict CSP (scripts from 'self' only), with a clean console;
the shell's sign-out button signs out by POST."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser


def test_api_docs_render_every_endpoint(signed_in):
    s = signed_in("manager")
    s.open("/api/v1/docs")
    s.page.wait_for_selector(".opblock", timeout=30_000)
    paths = s.page.locator(".opblock-summary-path").all_inner_texts()
    for path in ("/api/v1/lines", "/api/v1/orders", "/api/v1/orders/{order_id}/approve"):
        assert any(path in p.replace("\u200b", "") for p in paths), (path, paths)
    s.screenshot("api-docs")


def test_sign_out_button_posts_and_ends_the_session(signed_in):
    s = signed_in("end_user")
    s.open("/")
    s.page.click("form.logout-form button[type=submit]")
    s.page.wait_for_url("**/login")
    s.open("/overview")
    assert "/login" in s.page.url
