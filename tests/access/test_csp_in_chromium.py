"""The Content-Security-Policy is enforced and the portal's vendored assets satisfy it: no page
logs a violation in Chromium (Debian's), and Swagger UI and ReDoc render from local files."""

from __future__ import annotations

import pytest

from tests.factories import persona_user
from tests.support.browser import chromium

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, databases="__all__")]

PAGES = [
    "/accounts/login/",
    "/",
    "/dashboards/financial",
    "/console/slos",
    "/console/drills",
    "/console/probes",
    "/console/slos/booking-availability",
    "/api/docs/",
    "/api/redoc/",
    "/admin/",
    "/admin/claims/claim/",
]


def test_no_page_violates_the_content_security_policy(live_server):
    from apps.slo.services import slo_specs_sync

    slo_specs_sync()  # an SLO page with its charts (Chart.js) is among the pages
    user, _ = persona_user("sre", username="csp.browser")
    user.set_password("csp browser passphrase")
    user.is_staff = user.is_superuser = True  # the admin pages too
    user.save(update_fields=["password", "is_staff", "is_superuser"])
    with chromium() as browser:
        page = browser.new_page()
        violations, requests_off_site = [], []
        page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
        page.on("pageerror", lambda error: violations.append(str(error)))
        page.on("request", lambda r: requests_off_site.append(r.url) if not r.url.startswith(live_server.url) else None)
        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("#id_username", "csp.browser")
        page.fill("#id_password", "csp browser passphrase")
        page.click("#login-submit")
        page.wait_for_load_state("networkidle")
        for path in PAGES:
            page.goto(f"{live_server.url}{path}")
            page.wait_for_load_state("networkidle")
            violations[:] = [f"{path}: {v}" if not v.startswith("/") else v for v in violations]
            if path == "/api/docs/":
                page.wait_for_selector(".swagger-ui .information-container", timeout=15000)
            if path == "/api/redoc/":
                page.wait_for_selector("redoc h1, .api-info h1", timeout=15000)
        # The kill switch asks before it stops every drill (a script of the lab's, no inline handler).
        from apps.chaos.models import ChaosSwitch

        page.goto(f"{live_server.url}/console/drills")
        dialogs = []
        page.once("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        page.click("text=Stop all drills")
        page.wait_for_load_state("networkidle")
        assert "Stop all drills?" in dialogs[0] and not ChaosSwitch.objects.filter(engaged=True).exists()
        page.fill("#kill-reason", "csp check")
        page.once("dialog", lambda dialog: dialog.accept())
        page.click("text=Stop all drills")
        page.wait_for_selector("text=ENGAGED")
        assert ChaosSwitch.objects.filter(engaged=True).exists()
    # ReDoc's footer links Redocly's logo from their CDN: the policy blocks it, nothing leaves the lab.
    violations = [v for v in violations if "https://cdn.redoc.ly/" not in v]
    assert violations == [], "\n".join(violations)
    local = ("data:", f"blob:{live_server.url}", "https://cdn.redoc.ly/")  # the last one is blocked, above
    assert [url for url in requests_off_site if not url.startswith(local)] == []
