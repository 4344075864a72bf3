"""Driving the dashboards in Debian's Chromium: shared by the browser test and the benchmark."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Browser, BrowserContext, Locator, Page, Playwright, ViewportSize

# Debian's Chromium, not Playwright's own build (which it cannot download here); Playwright
# drives it over the DevTools protocol, which a Debian update could in principle break.
CHROMIUM = Path("/usr/bin/chromium")
# The flags this machine's Chromium needs: no sandbox as root, and no background traffic
# (the network is closed, and Chromium would otherwise keep retrying Google's hosts).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # Containers often give /dev/shm 64 MB, too little for tall screenshots.
    "--disable-dev-shm-usage",
]
PAGE_TIMEOUT_MS = 60_000
# Tall: Streamlit scrolls its main area itself, so a screenshot shows only the viewport.
VIEWPORT: ViewportSize = {"width": 1440, "height": 1800}


def launch(playwright: Playwright) -> Browser:
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


def new_context(browser: Browser) -> BrowserContext:
    """One person's browser: pages opened in it share its cache (scripts load once)."""
    return browser.new_context(viewport=VIEWPORT)


def new_page(opener: Browser | BrowserContext) -> Page:
    """A page in a browser context of its own (``opener`` a browser) or in ``opener``."""
    page = opener.new_page(viewport=VIEWPORT) if isinstance(opener, Browser) else opener.new_page()
    page.set_default_timeout(PAGE_TIMEOUT_MS)
    return page


def settled(page: Page) -> None:
    """Waits for the script run to finish (the attribute Streamlit keeps for its own e2e tests)."""
    page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]').wait_for()


# Streamlit draws some elements (charts, tables, date inputs) after the script run, showing a
# skeleton until their code has loaded; a chart is drawn once Vega has made its canvas or SVG.
_DRAWN = """() =>
    !document.querySelector('[data-testid="stSkeleton"], [data-testid="stSkeletonElement"]')
    && [...document.querySelectorAll('[data-testid="stVegaLiteChart"]')]
        .every(chart => chart.querySelector('canvas, svg'))"""


def drawn(page: Page) -> None:
    """Waits until every element of the page is drawn, not only sent."""
    page.wait_for_function(_DRAWN, timeout=PAGE_TIMEOUT_MS)


def sign_in(page: Page, url: str, key: str) -> None:
    """Signs in with ``key`` from the sidebar and waits for the first page (Overview)."""
    page.goto(url)
    submit_key(page, key)


def submit_key(page: Page, key: str) -> None:
    """On the sign-in page: enters ``key``, signs in, waits until the Overview is drawn."""
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name="Sign out").wait_for()
    title(page, "Overview").wait_for()
    settled(page)
    drawn(page)


def nav_links(page: Page) -> list[str]:
    links = page.locator('[data-testid="stSidebarNavLink"]')
    # The label is the last line; the icon's name comes before it.
    return [text.strip().splitlines()[-1].strip() for text in links.all_inner_texts()]


def title(page: Page, label: str) -> Locator:
    """The page's title: every page's starts with its navigation label (dashboards/pages.py)."""
    return page.locator("h1", has_text=re.compile("^" + re.escape(label))).first


def open_page(page: Page, label: str) -> None:
    """Clicks the sidebar link ``label`` and waits until its page has been drawn."""
    # The link holds its icon's name and its label: "Usage" exactly, not "Usage trends".
    link = page.locator('[data-testid="stSidebarNavLink"]')
    link.filter(has=page.get_by_text(label, exact=True)).click()
    title(page, label).wait_for()
    settled(page)
    drawn(page)
