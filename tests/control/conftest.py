"""Every control-plane test runs against SQLite and PostgreSQL.

PostgreSQL comes from ``TOLLGATE_TEST_POSTGRES_URL`` (``.ci/run`` starts one; people can
``source .ci/postgres.sh``); each test gets its own schema. Without the URL the PostgreSQL
variants skip, except under CI, where a missing server must fail the run, not shrink it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from tollgate.billing.catalogue import Catalogue, default_catalogue
from tollgate.control.database import open_control_database
from tollgate.control.service import ControlService

POSTGRES_ENV = "TOLLGATE_TEST_POSTGRES_URL"


@dataclass
class Clock:
    now: datetime = field(default_factory=lambda: datetime(2026, 1, 10, 9, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


def _postgres_url() -> Iterator[str]:
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        if os.environ.get("CI"):
            pytest.fail(
                f"{POSTGRES_ENV} is not set but CI is: the PostgreSQL tests must run in CI "
                "(.ci/run starts a server with .ci/postgres.sh)"
            )
        pytest.skip(
            f"PostgreSQL variant: set {POSTGRES_ENV}=postgresql+psycopg://user@127.0.0.1:5432/db, "
            "or run `source .ci/postgres.sh` first (as .ci/run does)"
        )
    schema = f"test_{uuid.uuid4().hex[:16]}"
    admin = create_engine(base)
    with admin.begin() as connection:
        connection.execute(text(f'create schema "{schema}"'))
    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'drop schema "{schema}" cascade'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def control_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty control database on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'data' / 'control.sqlite'}"
    else:
        yield from _postgres_url()


@pytest.fixture
def engine(control_url: str) -> Iterator[Engine]:
    opened = open_control_database(control_url)
    yield opened
    opened.dispose()


@pytest.fixture
def catalogue() -> Catalogue:
    return default_catalogue()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def service(engine: Engine, catalogue: Catalogue, clock: Clock) -> ControlService:
    return ControlService(engine, catalogue, actor="tests:alice", clock=clock)
