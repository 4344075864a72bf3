"""Where every process finds the control database and the plan catalogue."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest_api.settings import IngestSettings
from tollgate.billing.catalogue import CatalogueError
from tollgate.billing.catalogue.loader import BUNDLED_CATALOGUE
from tollgate.settings import TollgateSettings


def test_defaults_are_sqlite_in_the_data_dir_and_the_bundled_catalogue(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("TOLLGATE_DATA_DIR", "TOLLGATE_CONTROL_URL", "TOLLGATE_PLANS_FILE"):
        monkeypatch.delenv(name, raising=False)
    settings = TollgateSettings()
    assert settings.control_database_url == "sqlite:///data/control.sqlite"
    assert "starter" in settings.catalogue().plans


def test_environment_overrides_and_ingest_settings_share_them(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    plans = tmp_path / "plans.yaml"
    plans.write_text(
        BUNDLED_CATALOGUE.read_text().replace("display_name: Starter", "display_name: Basic")
    )
    monkeypatch.setenv("TOLLGATE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("TOLLGATE_PLANS_FILE", str(plans))
    ingest = IngestSettings()
    assert ingest.control_database_url == f"sqlite:///{tmp_path}/control.sqlite"
    assert ingest.catalogue().plan("starter").display_name == "Basic"
    monkeypatch.setenv("TOLLGATE_CONTROL_URL", "postgresql+psycopg://u@db/tollgate")
    assert IngestSettings().control_database_url == "postgresql+psycopg://u@db/tollgate"


def test_a_broken_plans_file_says_what_is_wrong(tmp_path: Path) -> None:
    with pytest.raises(CatalogueError, match="cannot read the file"):
        TollgateSettings(plans_file=tmp_path / "missing.yaml").catalogue()
