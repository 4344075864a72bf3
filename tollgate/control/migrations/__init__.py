"""Schema migrations (Alembic), applied programmatically: no alembic.ini is needed at run time.

Every process that opens the control database calls ``upgrade`` first, so a fresh data directory
or a new release needs no set-up step; ``tollgate db upgrade`` runs the same thing on its own.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from tollgate.control.database import create_control_engine, write_transaction

SCRIPT_LOCATION = Path(__file__).parent


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(target: Engine | str) -> str:
    """Brings the database to the newest revision (a no-op when it is there); returns it.

    Runs in one write transaction, which on SQLite holds the write lock and on PostgreSQL an
    advisory lock, so two processes starting at once migrate once, one after the other.
    """
    engine = create_control_engine(target) if isinstance(target, str) else target
    head = head_revision()
    if current_revision(engine) == head:
        return head
    config = alembic_config()
    with write_transaction(engine) as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    if isinstance(target, str):
        engine.dispose()
    return head
