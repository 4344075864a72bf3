"""One billed world and one real `tollgate serve` for the whole fuzz module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.api_fuzz.world import FuzzWorld, running_world


@pytest.fixture(scope="module")
def fuzz_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzWorld]:
    data_dir = tmp_path_factory.mktemp("api-fuzz") / "data"
    data_dir.mkdir()
    with running_world(data_dir) as world:
        yield world
