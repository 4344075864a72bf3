"""One billed world for the dashboard tests: the billing API tests' own, on SQLite.

``running_world`` (tests/billing_api/world.py) builds customers on several plans, events in
the current and previous cycle, one real pipeline run that publishes the marts, keys of
every kind, and the billing API itself: the tests ask it what the dashboard should show.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.billing_api.world import World, running_world

APP = Path(__file__).parents[2] / "dashboards" / "app.py"
PAGES = APP.parent / "app_pages"
# Generous: the Overview page rebuilds live usage from the published files on a cold cache,
# and CI machines are busy.
TIMEOUT = 60


@pytest.fixture(scope="session")
def billed_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    data_dir = tmp_path_factory.mktemp("dashboards") / "data"
    data_dir.mkdir()
    with running_world("sqlite", f"sqlite:///{data_dir / 'control.sqlite'}", data_dir) as world:
        yield world


@pytest.fixture
def world(billed_world: World, monkeypatch: pytest.MonkeyPatch) -> World:
    """The billed world, with the dashboard's settings pointing at it."""
    monkeypatch.setenv("TOLLGATE_DATA_DIR", str(billed_world.data_dir))
    return billed_world


def key_id(token: str) -> str:
    """``tg_<key id>_<secret>``: the id is hex, so the first underscore after it ends it."""
    return token.split("_")[1]


def signed_in(token: str) -> AppTest:
    """The app after submitting ``token`` in the sidebar's sign-in form."""
    app = AppTest.from_file(str(APP), default_timeout=TIMEOUT).run()
    assert not app.exception
    app.sidebar.text_input[0].input(token)
    app.sidebar.button[0].click()
    return app.run()
