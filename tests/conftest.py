from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.demo_run import DemoRun, run_demo
from tests.support.server import ServerKeys, TollgateServer


def _run(data_dir: Path) -> Iterator[TollgateServer]:
    running = TollgateServer(data_dir=data_dir)
    running.data_dir.mkdir(parents=True)
    running.start()
    yield running
    running.stop()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[TollgateServer]:
    """A real `tollgate serve` process on 127.0.0.1 with its own data directory."""
    yield from _run(tmp_path / "data")


@pytest.fixture
def keys(server: TollgateServer) -> ServerKeys:
    return server.create_keys()


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TollgateServer]:
    """One real server for a whole module of tests that don't depend on each other's events."""
    yield from _run(tmp_path_factory.mktemp("shared") / "data")


@pytest.fixture(scope="module")
def shared_keys(shared_server: TollgateServer) -> ServerKeys:
    return shared_server.create_keys()


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    """``tollgate demo --no-keep-running`` run once; its data directory stays for readers."""
    return run_demo(tmp_path_factory.mktemp("demo") / "data")
