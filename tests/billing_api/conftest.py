"""Every billing API test runs on SQLite and on PostgreSQL (``tests/control/conftest.py``
explains where PostgreSQL comes from), against one ``World`` per backend for the session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.billing_api.world import World, running_world
from tests.control.conftest import _postgres_url


def _world(
    backend: str, tmp_path_factory: pytest.TempPathFactory, *, billed: bool
) -> Iterator[World]:
    data_dir = tmp_path_factory.mktemp(f"billing-{backend}") / "data"
    data_dir.mkdir()
    if backend == "sqlite":
        url = f"sqlite:///{data_dir / 'control.sqlite'}"
        with running_world(backend, url, data_dir, billed=billed) as running:
            yield running
        return
    for url in _postgres_url():
        with running_world(backend, url, data_dir, billed=billed) as running:
            yield running


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    """The app over a billed history (one real pipeline run), for the whole session."""
    yield from _world(request.param, tmp_path_factory, billed=True)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def bare_world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    """The app before any pipeline run: nothing published."""
    yield from _world(request.param, tmp_path_factory, billed=False)


@pytest.fixture(params=["sqlite", "postgresql"])
def control_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty control database on each backend; SQLite's in ``tmp_path / "data"``."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'data' / 'control.sqlite'}"
    else:
        yield from _postgres_url()
