from __future__ import annotations

from pathlib import Path

import pytest

from tests.warehouse.helpers import TickingClock


@pytest.fixture
def clock() -> TickingClock:
    return TickingClock()


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    return tmp_path / "warehouse.duckdb"


@pytest.fixture
def marts_dir(tmp_path: Path) -> Path:
    return tmp_path / "marts"
