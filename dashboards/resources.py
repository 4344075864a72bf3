"""What every page shares, made once per process: the settings' data sources, opened.

``st.cache_resource`` holds one of each per argument value, so two data directories (two
test runs in one process, say) never share a database engine or a catalogue.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import streamlit as st
from sqlalchemy import Engine

from tollgate.billing.catalogue import Catalogue, default_catalogue
from tollgate.control.database import open_control_database
from tollgate.settings import TollgateSettings
from tollgate.warehouse.reader import PublishedMarts


@dataclass(frozen=True, slots=True)
class Sources:
    """Where the dashboard reads from; hashable, so cached queries can be keyed on it."""

    control_url: str
    marts_dir: Path
    events_dir: Path
    plans_file: Path | None


def sources() -> Sources:
    """Read from ``TOLLGATE_*`` variables on every run, like every other Tollgate process."""
    settings = TollgateSettings()
    return Sources(
        settings.control_database_url,
        settings.marts_dir,
        settings.events_dir,
        settings.plans_file.resolve() if settings.plans_file else None,
    )


@st.cache_resource(show_spinner=False)
def control_engine(url: str) -> Engine:
    return open_control_database(url)


def catalogue(plans_file: Path | None) -> Catalogue:
    # Not cached here: ``default_catalogue`` keeps it and re-reads it when the file changes.
    return default_catalogue(plans_file)


@st.cache_resource(show_spinner=False)
def marts(marts_dir: Path) -> PublishedMarts:
    return PublishedMarts(marts_dir)
