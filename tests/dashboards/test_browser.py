"""The dashboards in a real browser: Debian's Chromium, headless, on the demo's data.

Every page is opened the way a person opens it (sign in, then the sidebar's links), on a
dashboards process served on 127.0.0.1 over the data ``tollgate demo`` made. A page fails the
test if it shows an exception or an error message, or if it is blank. Each page is saved as a
screenshot (under the test's temporary directory, and in ``TOLLGATE_SCREENSHOTS_DIR`` if set:
``docs/screenshots/`` is made that way, see docs/dashboards.md).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from dashboards.pages import ADMIN_PAGES, CUSTOMER_PAGES
from tests.support.chromium import CHROMIUM, launch, nav_links, new_page, open_page, sign_in
from tests.support.demo_run import DemoRun
from tests.support.server import free_port
from tollgate.dashboards_server import start_dashboards
from tollgate.demo import DEMO_CUSTOMER
from tollgate.settings import TollgateSettings

# The first test also pays for the session's demo run (tests/support/demo_run.py).
pytestmark = pytest.mark.timeout(900)


@pytest.fixture(scope="module")
def chromium() -> Path:
    if not CHROMIUM.exists():
        message = "Debian's chromium is not installed (apt-get install chromium; .ci/run does)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return CHROMIUM


@pytest.fixture(scope="module")
def served(demo_run: DemoRun, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    assert demo_run.returncode == 0, demo_run.output
    log = tmp_path_factory.mktemp("dashboards") / "dashboards.log"
    server = start_dashboards(
        TollgateSettings(data_dir=demo_run.data_dir), port=free_port(), log=log
    )
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def screenshots(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "screenshots"
    folder.mkdir()
    yield folder
    wanted = os.environ.get("TOLLGATE_SCREENSHOTS_DIR")
    if wanted:
        Path(wanted).mkdir(parents=True, exist_ok=True)
        for shot in folder.glob("*.png"):
            shutil.copy(shot, Path(wanted) / shot.name)


@pytest.fixture
def browser(chromium: Path) -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = launch(playwright)
        try:
            yield launched
        finally:
            launched.close()


def _check(page: Page, label: str, shot: Path) -> None:
    """Opens the page behind the sidebar link ``label``; fails if it errs or is blank."""
    open_page(page, label)
    page.screenshot(path=str(shot), full_page=True)
    exceptions = page.locator('[data-testid="stException"]').all_inner_texts()
    assert not exceptions, f"{label}: {exceptions}"
    errors = page.locator('[data-testid="stAlertContentError"]').all_inner_texts()
    assert not errors, f"{label} shows an error: {errors}"
    main = page.locator('[data-testid="stMainBlockContainer"]').inner_text()
    # Blank: a title and nothing else (or nothing at all).
    assert len(main.strip()) > len(label) + 40, f"{label} looks blank: {main!r}"


def test_customer_sees_every_customer_page_and_no_admin_page(
    served: str, demo_run: DemoRun, browser: Browser, screenshots: Path
) -> None:
    page = new_page(browser)
    sign_in(page, served, demo_run.key(f"as customer {DEMO_CUSTOMER}"))
    assert nav_links(page) == [spec.label for spec in CUSTOMER_PAGES]
    for spec in CUSTOMER_PAGES:
        _check(page, spec.label, screenshots / f"customer-{_slug(spec.label)}.png")
    assert DEMO_CUSTOMER in page.locator("h1").first.inner_text()


def test_admin_sees_every_page(
    served: str, demo_run: DemoRun, browser: Browser, screenshots: Path
) -> None:
    page = new_page(browser)
    sign_in(page, served, demo_run.key("as an operator"))
    assert nav_links(page) == [spec.label for spec in (*CUSTOMER_PAGES, *ADMIN_PAGES)]
    for spec in ADMIN_PAGES:
        _check(page, spec.label, screenshots / f"admin-{_slug(spec.label)}.png")


def test_a_wrong_key_is_refused_in_the_browser(served: str, browser: Browser) -> None:
    page = new_page(browser)
    page.goto(served)
    page.get_by_label("API key").fill("tg_0000_not_a_key")
    page.get_by_role("button", name="Sign in").click()
    error = page.locator('[data-testid="stAlertContentError"]').first
    error.wait_for()
    assert "not valid" in error.inner_text()
    assert page.get_by_role("button", name="Sign out").count() == 0
    assert nav_links(page) in ([], ["Sign in"])


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
