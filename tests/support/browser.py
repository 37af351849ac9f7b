"""Browser tests as a person uses the portal: Debian's Chromium driven by Playwright, axe-core checks
and screenshots. Use the ``browser_context`` fixture (from tests/conftest.py) or ``new_page``."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from axe_playwright_python.sync_playwright import Axe
from django.db import connections
from playwright.sync_api import Browser, Page, sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOT_DIR = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
DEMO_PASSWORD = "lab-browser-pass"


@contextmanager
def chromium() -> Iterator[Browser]:
    # Playwright's sync API runs an event loop in this thread; the live server's ORM calls are in
    # other threads, and the test's own ORM calls are synchronous, so Django's async guard is lifted.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            try:
                yield browser
            finally:
                browser.close()
                # While Playwright's loop runs in this thread, Django keeps the thread's database
                # connections in a separate (async-context) store: close the ones the test opened
                # meanwhile, or they outlive it and PostgreSQL refuses to drop the test databases.
                connections.close_all()
    finally:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


def log_in(page: Page, base_url: str, username: str, password: str = DEMO_PASSWORD) -> None:
    page.goto(f"{base_url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("#login-submit")
    page.wait_for_load_state("networkidle")


def serious_axe_violations(page: Page) -> list[dict]:
    """axe-core's serious and critical findings on the current page (empty when accessible)."""
    results = Axe().run(page)
    return [
        {"id": v["id"], "impact": v["impact"], "help": v["help"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in results.response["violations"]
        if v.get("impact") in ("serious", "critical")
    ]


def screenshot(page: Page, name: str) -> Path:
    """A full-page PNG under docs/screenshots/ (committed and shown in the README)."""
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOT_DIR / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
