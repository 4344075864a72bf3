"""What every ``tollgate`` command shares: where the data is, who is acting, how errors look."""

from __future__ import annotations

import functools
import getpass
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, NoReturn, ParamSpec, TypeVar

import typer
from pydantic import ValidationError
from pydantic_settings import BaseSettings
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from tollgate.billing.catalogue import CatalogueError, UnknownPlanError
from tollgate.control.database import normalize_url, open_control_database
from tollgate.control.errors import ControlError
from tollgate.control.service import ControlService
from tollgate.settings import TollgateSettings

P = ParamSpec("P")
R = TypeVar("R")
S = TypeVar("S", bound=BaseSettings)

DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="Where WAL, Parquet and the control database live "
        "[env: TOLLGATE_DATA_DIR; default: ./data].",
        show_default=False,
    ),
]
ControlUrl = Annotated[
    str | None,
    typer.Option(
        "--control-url",
        help="Control database URL, e.g. postgresql+psycopg://user@host/tollgate "
        "[env: TOLLGATE_CONTROL_URL; default: SQLite in the data directory].",
        show_default=False,
    ),
]
PlansFile = Annotated[
    Path | None,
    typer.Option(
        "--plans-file",
        help="Plan catalogue YAML [env: TOLLGATE_PLANS_FILE; default: the bundled one].",
        show_default=False,
    ),
]


def default_actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no login name (a container with an unnamed uid)
        return "cli:unknown"


Actor = Annotated[
    str | None,
    typer.Option(
        "--actor",
        help="Who is making the change, for the audit log [default: cli:<login user>].",
        show_default=False,
    ),
]


def fail(message: str) -> NoReturn:
    typer.echo(f"Error: {message}", err=True)
    raise typer.Exit(2)


def one_line(text: str) -> str:
    return "; ".join(line.strip(" -") for line in text.splitlines() if line.strip())


def handles_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Turns the control plane's refusals into one line on stderr and exit code 2."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except (ControlError, CatalogueError, UnknownPlanError) as error:
            fail(one_line(str(error)))
        except SQLAlchemyError as error:
            cause = one_line(str(error.orig if hasattr(error, "orig") else error))
            fail(f"the control database refused the operation: {cause}")

    return wrapper


def build_settings(kind: type[S], **values: object) -> S:
    given = {k: v for k, v in values.items() if v is not None}
    try:
        return kind(**given)  # type: ignore[arg-type]
    except ValidationError as error:
        problems = "; ".join(
            f"TOLLGATE_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}"
            for e in error.errors()
        )
        fail(f"invalid configuration: {problems}")


def control_settings(
    data_dir: Path | None, control_url: str | None, plans_file: Path | None = None
) -> TollgateSettings:
    return build_settings(
        TollgateSettings, data_dir=data_dir, control_url=control_url, plans_file=plans_file
    )


@contextmanager
def control_engine(settings: TollgateSettings) -> Iterator[Engine]:
    url = settings.control_database_url
    safe = normalize_url(url).render_as_string(hide_password=True)
    try:
        engine = open_control_database(url)
    except SQLAlchemyError as error:
        cause = one_line(str(getattr(error, "orig", None) or error))
        fail(f"cannot open the control database {safe}: {cause}")
    try:
        yield engine
    finally:
        engine.dispose()


@contextmanager
def control_service(
    data_dir: Path | None,
    control_url: str | None,
    plans_file: Path | None,
    actor: str | None,
) -> Iterator[ControlService]:
    settings = control_settings(data_dir, control_url, plans_file)
    catalogue = settings.catalogue()
    with control_engine(settings) as engine:
        yield ControlService(engine, catalogue, actor=actor or default_actor())


def parse_moment(text: str | None, option: str = "--at") -> datetime | None:
    """ISO 8601 from the command line; a time without a zone is UTC, "now" or nothing is now."""
    if text is None or text.strip().lower() == "now":
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        fail(
            f"{option} '{text}' is not a time; use ISO 8601 such as 2026-11-01 or "
            "2026-11-01T09:30:00Z (UTC unless a zone is given)"
        )
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def when(moment: datetime | None) -> str:
    return "-" if moment is None else moment.astimezone(UTC).isoformat(timespec="seconds")
