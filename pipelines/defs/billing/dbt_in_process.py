"""dbt inside the step's own process, on a manifest parsed once per process.

dagster-dbt's ``DbtCliResource`` starts ``dbt --version`` and then ``dbt`` itself as
subprocesses for every step: importing dbt costs ~3.5 s, registering the adapter ~1 s, and
the parse more, about 8 s per step before the first model runs (docs/benchmarks.md). dbt's
programmatic entry point, ``dbtRunner``, accepts a parsed manifest and skips all of that, and
dagster-dbt's own event translation turns its structured events into the same materializations
and asset checks as the CLI's JSON log lines would.

Only one dbt invocation runs at a time in a process (dbt keeps global state; the warehouse
allows one writer anyway), and the warehouse file is closed when each invocation ends, so
readers and the next step can open it.
"""

from __future__ import annotations

import shutil
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtProject
from dagster_dbt.asset_utils import get_updated_cli_invocation_params_for_context
from dagster_dbt.core.dbt_cli_event import DbtCoreCliEventMessage
from dbt.adapters.duckdb.connections import DuckDBConnectionManager
from dbt.cli.main import dbtRunner, dbtRunnerResult
from dbt.contracts.graph.manifest import Manifest
from dbt_common.events.base_types import EventMsg
from dbt_common.events.functions import msg_to_dict

from pipelines.environment import temporary_environment

# Unit tests check the models' logic on fixed inputs: they run in the test suite
# (tests/pipelines/test_dbt_unit_tests.py), not on every production build, as dbt recommends.
PRODUCTION_BUILD = ("build", "--exclude-resource-type", "unit_test")

_lock = threading.Lock()
_parsed: dict[Path, Manifest] = {}


class DbtBuildError(dg.Failure):
    pass


def dbt_build(
    context: dg.AssetExecutionContext,
    project: DbtProject,
    translator: DagsterDbtTranslator,
    environment: Mapping[str, str],
) -> Iterator[Any]:
    """``dbt build`` of the nodes this step materializes; yields their Dagster events."""
    params = get_updated_cli_invocation_params_for_context(context, {}, translator)
    # A large subset is passed as a generated selector, in a copy of the project.
    project = params.dbt_project or project
    target = Path(project.project_dir) / "target" / _invocation_name(context)
    args = [
        *PRODUCTION_BUILD,
        *params.selection_args,
        "--target-path",
        str(target),
        "--log-path",
        str(target),
        "--log-format-file",
        "json",
    ]
    if params.indirect_selection:
        args += ["--indirect-selection", params.indirect_selection]
    messages: list[dict[str, Any]] = []

    def collect(event: EventMsg) -> None:
        if event.info.name in _RESULT_EVENTS:
            messages.append(msg_to_dict(event))

    result = invoke(project, args, environment, callbacks=[collect])
    _prune_invocations(target.parent, context.op_execution_context.op.name)
    for raw in messages:
        event = DbtCoreCliEventMessage(raw_event=raw, event_history_metadata={})
        yield from event.to_default_asset_events(
            manifest=params.manifest,
            dagster_dbt_translator=params.dagster_dbt_translator,
            context=context,
            target_path=target,
            project=project,
        )
    if not result.success:
        raise DbtBuildError(description=_failure(result, target))


def invoke(
    project: DbtProject,
    args: Sequence[str],
    environment: Mapping[str, str],
    callbacks: Sequence[Callable[[EventMsg], None]] = (),
) -> dbtRunnerResult:
    """One dbt command on the project, with the run's environment (tollgate.billing.dbt_run)."""
    # dbt and its plugin read these from the environment; they must not outlive the call.
    with _lock, temporary_environment(environment):
        try:
            runner = dbtRunner(manifest=parsed_manifest(project), callbacks=list(callbacks))
            return runner.invoke([*args, *_project_args(project), "--quiet"])
        finally:
            _close_warehouse()


_RESULT_EVENTS = frozenset(
    {"LogModelResult", "LogTestResult", "LogSeedResult", "LogSnapshotResult"}
)


def parsed_manifest(project: DbtProject) -> Manifest:
    """The project parsed in this process (partial parsing makes it ~1 s), kept for every
    later invocation: the models' SQL does not depend on a run's parameters."""
    project_dir = Path(project.project_dir)
    if project_dir not in _parsed:
        result = dbtRunner().invoke(["parse", *_project_args(project), "--quiet"])
        if not result.success or not isinstance(result.result, Manifest):
            failure = f"dbt could not parse {project_dir}: {result.exception}"
            raise DbtBuildError(description=failure)
        _parsed[project_dir] = result.result
    return _parsed[project_dir]


def _project_args(project: DbtProject) -> list[str]:
    profiles_dir = project.profiles_dir or project.project_dir
    return ["--project-dir", str(project.project_dir), "--profiles-dir", str(profiles_dir)]


def _close_warehouse() -> None:
    # dbt-duckdb keeps its database environment in a class attribute across invocations; drop
    # it, so the file is closed (other processes may read it) and the next invocation's plugin
    # reads that run's parameters.
    with DuckDBConnectionManager._LOCK:
        environment = DuckDBConnectionManager._ENV
        if environment is not None:
            environment.close()
        DuckDBConnectionManager._ENV = None


# Each invocation writes its own target folder (compiled SQL, run_results.json, dbt.log); the
# newest few of each step stay for inspection.
KEEP_INVOCATIONS = 10


def _prune_invocations(target_dir: Path, op: str) -> None:
    folders = sorted(
        (path for path in target_dir.glob(f"{op}-*") if path.is_dir()),
        key=lambda path: path.stat().st_mtime,
        reverse=True,
    )
    for folder in folders[KEEP_INVOCATIONS:]:
        shutil.rmtree(folder, ignore_errors=True)


def _invocation_name(context: dg.AssetExecutionContext) -> str:
    op = context.op_execution_context.op.name
    return f"{op}-{context.run.run_id[:7]}-{uuid.uuid4().hex[:7]}"


def _failure(result: dbtRunnerResult, target: Path) -> str:
    if result.exception is not None:
        return f"dbt failed: {result.exception}"
    failed: Sequence[Any] = [
        r for r in getattr(result.result, "results", []) if str(r.status) in _FAILED
    ]
    lines = [f"{r.node.unique_id}: {r.status}: {(r.message or '').strip()}" for r in failed]
    return "dbt build failed:\n" + "\n".join(lines or [f"see {target / 'dbt.log'}"])


_FAILED = frozenset({"error", "fail", "runtime error"})
