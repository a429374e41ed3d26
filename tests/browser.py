"""Browser tests' Chromium (Debian's, driven by Playwright: `playwright install` is never needed)
and their helpers. Loaded as a pytest plugin (pytest.ini), so any test module can ask for the
`browser` and `static_files` fixtures."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from django.core.management import call_command
from playwright.sync_api import sync_playwright

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Without these, Chromium keeps trying to reach Google's servers, which a machine with no internet refuses.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}


@pytest.fixture(scope="module")
def static_files():
    call_command("collectstatic", interactive=False, verbosity=0)  # the server runs with production settings


@pytest.fixture
def browser(monkeypatch):
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: apt-get install chromium (see .ci/run)")
    # Playwright's sync API keeps an event loop in this thread; the test's own ORM calls are still synchronous.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def screenshot(page, name: str) -> None:
    """The page on a phone and on a desktop screen."""
    folder = os.environ.get("SCREENSHOT_DIR")
    if folder:
        page.screenshot(path=str(Path(folder) / f"{name}-phone.png"), full_page=True)
        page.set_viewport_size(DESKTOP)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)
        page.set_viewport_size(PHONE)


def logged_in(browser, base: str, username: str, password: str, *, viewport: dict, then: str):
    """A new page, logged in through the login form, on `then`."""
    page = browser.new_page(viewport=viewport)
    page.set_default_timeout(30_000)
    page.goto(f"{base}/accounts/login/?next={then}")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base}{then}")
    return page
