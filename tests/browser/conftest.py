"""Playwright driving Debian's Chromium against a live, multi-threaded Django server."""

from __future__ import annotations

import os

import pytest

# Playwright's sync API runs an event loop in the test thread; the ORM calls made by the
# tests themselves are ordinary blocking calls.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    executable = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
    if not os.path.exists(executable):
        pytest.fail(f"Chromium not found at {executable}; install Debian's chromium package.")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_FLAGS
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser, sandbox_site):
    context = browser.new_context(base_url=sandbox_site.url)
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def owner_page(browser, sandbox_site):
    """The account owner's browser: a context of its own, never signed in."""
    context = browser.new_context(base_url=sandbox_site.url)
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


@pytest.fixture
def clipboard_page(browser, sandbox_site):
    """A page that may read and write the clipboard (the Copy buttons)."""
    context = browser.new_context(
        base_url=sandbox_site.url, permissions=["clipboard-read", "clipboard-write"]
    )
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


def log_in(page, username: str, password: str) -> None:
    page.goto("/admin/login/?next=/instances/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/instances/")
