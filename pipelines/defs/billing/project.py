"""The dbt project, as Dagster sees it: one ``DbtProject`` and a manifest that is never stale.

``TOLLGATE_DBT_PROJECT_DIR`` points at another copy of the project (the default is the one in
this repository). ``dagster dev`` re-parses through ``prepare_if_dev``; everywhere else
(tests, CI, ``tollgate pipeline run``) the manifest is parsed here when it is missing or older
than any file of the project, so the asset graph always matches the models on disk.
"""

from __future__ import annotations

import os
from pathlib import Path

from dagster_dbt import DbtProject

from pipelines.defs.billing.dbt_in_process import parsed_manifest

DEFAULT_PROJECT_DIR = Path(__file__).resolve().parents[3] / "dbt_project"
PROJECT_DIR = Path(os.environ.get("TOLLGATE_DBT_PROJECT_DIR") or DEFAULT_PROJECT_DIR).resolve()

dbt_project = DbtProject(project_dir=PROJECT_DIR, profiles_dir=PROJECT_DIR)
dbt_project.prepare_if_dev()

_SOURCES = ("models", "macros", "tests", "dbt_project.yml", "profiles.yml")


def _newest_source_mtime(project_dir: Path) -> float:
    newest = 0.0
    for name in _SOURCES:
        path = project_dir / name
        paths = [path] if path.is_file() else path.rglob("*") if path.is_dir() else []
        for item in paths:
            newest = max(newest, item.stat().st_mtime)
    return newest


def ensure_manifest(project: DbtProject) -> Path:
    manifest = project.manifest_path
    if not manifest.exists() or manifest.stat().st_mtime < _newest_source_mtime(
        project.project_dir
    ):
        # What `dagster dev` does (prepare_if_dev), in this process: the parse is kept for the
        # dbt invocations that follow.
        parsed_manifest(project)
    return manifest


MANIFEST = ensure_manifest(dbt_project)
