"""The control-plane commands as an operator runs them."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tollgate.cli import app
from tollgate.control.migrations import head_revision

runner = CliRunner()

COMMANDS = [
    ["customers"],
    ["customers", "create"],
    ["customers", "update"],
    ["customers", "list"],
    ["customers", "show"],
    ["subscriptions"],
    ["subscriptions", "create"],
    ["subscriptions", "change"],
    ["subscriptions", "cancel"],
    ["subscriptions", "list"],
    ["subscriptions", "history"],
    ["limits"],
    ["limits", "set"],
    ["limits", "reset"],
    ["limits", "show"],
    ["plans"],
    ["plans", "list"],
    ["plans", "show"],
    ["plans", "estimate"],
    ["db"],
    ["db", "upgrade"],
    ["audit"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_has_help(command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


class Cli:
    def __init__(self, control_url: str) -> None:
        self.target = ["--control-url", control_url]

    def ok(self, *args: str) -> str:
        result = runner.invoke(app, [*args, *self.target])
        assert result.exit_code == 0, result.output
        return result.output

    def error(self, *args: str) -> str:
        result = runner.invoke(app, [*args, *self.target])
        assert result.exit_code == 2, result.output
        assert result.exception is None or isinstance(result.exception, SystemExit)
        assert "Traceback" not in result.output
        lines = result.output.strip().splitlines()
        assert len(lines) == 1, result.output
        return lines[0]


@pytest.fixture
def cli(control_url: str) -> Cli:
    return Cli(control_url)


def test_customer_subscription_and_limit_lifecycle(cli: Cli) -> None:
    # Times in the future: a scheduled change whose time has passed counts as done.
    out = cli.ok(
        "customers",
        "create",
        "cus_1",
        "--name",
        "Acme",
        "--timezone",
        "Europe/Berlin",
        "--actor",
        "ops:bob",
    )
    assert "created customer cus_1 (Acme, Europe/Berlin, usd)" in out
    out = cli.ok("subscriptions", "create", "cus_1", "starter", "--at", "2036-01-10T09:00:00Z")
    sub_id = re.search(r"(sub_\w+)", out)
    assert sub_id
    out = cli.ok("subscriptions", "change", "cus_1", "professional", "--at", "2036-01-20T15:30:00Z")
    assert "starter -> professional now" in out
    assert "credit USD -" in out
    out = cli.ok("subscriptions", "change", sub_id.group(1), "free", "--at", "2036-01-21")
    assert "scheduled at period end (2036-02-10T09:00:00+00:00)" in out
    history = cli.ok("subscriptions", "history", sub_id.group(1))
    assert re.search(r"free\s+2036-02-10T09:00:00\+00:00\s+-", history)

    assert "api_calls: 5000 (soft) (override)" in cli.ok(
        "limits", "set", "cus_1", "api_calls", "5000", "--enforcement", "soft"
    )
    shown = cli.ok("customers", "show", "cus_1", "--at", "2036-01-22")
    assert "plan:       professional" in shown
    assert re.search(r"api_calls\s+5000 \(soft\)\s+override", shown)
    assert re.search(r"storage\s+50 \(soft\)\s+plan", shown)
    assert "3 limits copied from plan enterprise" in cli.ok(
        "limits", "reset", "cus_1", "--from-plan", "enterprise"
    )
    assert "all overrides dropped" in cli.ok("limits", "reset", "cus_1")
    assert "will end at" in cli.ok("subscriptions", "cancel", "cus_1", "--at", "2036-01-22")

    listed = cli.ok("customers", "list")
    assert re.search(r"cus_1\s+Acme\s+Europe/Berlin\s+usd", listed)
    audit = cli.ok("audit", "--limit", "50")
    assert re.search(r"ops:bob\s+customer\.create\s+customer cus_1", audit)
    assert "subscription.cancel" in audit
    assert "limits.reset" in audit


def test_bad_input_is_one_line_and_exit_code_2(cli: Cli) -> None:
    cli.ok("customers", "create", "cus_1", "--name", "Acme")
    assert "customer 'cus_1' already exists" in cli.error(
        "customers", "create", "cus_1", "--name", "Again"
    )
    assert "unknown time zone 'Nowhere/City'" in cli.error(
        "customers", "create", "cus_2", "--name", "X", "--timezone", "Nowhere/City"
    )
    assert "no plan named 'gold'; the catalogue has: enterprise, free" in cli.error(
        "subscriptions", "create", "cus_1", "gold"
    )
    assert "no customer 'cus_404'" in cli.error("subscriptions", "create", "cus_404", "free")
    assert "--at 'yesterday' is not a time" in cli.error(
        "subscriptions", "create", "cus_1", "free", "--at", "yesterday"
    )
    assert "customer 'cus_1' has no active subscription" in cli.error(
        "subscriptions", "cancel", "cus_1"
    )
    assert "no feature 'gpu'" in cli.error("limits", "set", "cus_1", "gpu", "5")
    assert "is not a number" in cli.error("limits", "set", "cus_1", "api_calls", "many")
    assert "not both" in cli.error(
        "limits", "reset", "cus_1", "--feature", "api_calls", "--from-plan", "free"
    )


def test_database_errors_are_one_line_too(tmp_path: Path) -> None:
    result = runner.invoke(app, ["customers", "list", "--control-url", "mysql://db/x"])
    assert result.exit_code == 2
    assert result.output.strip() == (
        "Error: unsupported control database 'mysql': use sqlite:/// or postgresql+psycopg://"
    )
    result = runner.invoke(
        app, ["customers", "list", "--control-url", "postgresql://nobody@127.0.0.1:1/none"]
    )
    assert result.exit_code == 2
    assert result.output.startswith("Error: cannot open the control database")
    assert len(result.output.strip().splitlines()) == 1


def test_plans_and_db_upgrade(tmp_path: Path) -> None:
    plans = runner.invoke(app, ["plans", "list"])
    assert re.search(r"starter\s+Starter\s+hybrid\s+USD 29.00", plans.output)
    shown = runner.invoke(app, ["plans", "show", "free"])
    assert re.search(r"api_calls\s+1000\s+1000 \(hard\)", shown.output)
    missing = runner.invoke(app, ["plans", "show", "gold"])
    assert missing.exit_code == 2
    upgraded = runner.invoke(app, ["db", "upgrade", "--data-dir", str(tmp_path)])
    assert upgraded.exit_code == 0, upgraded.output
    assert f"at revision {head_revision()}" in upgraded.output
    assert (tmp_path / "control.sqlite").exists()


def test_plans_estimate_prices_a_month_on_every_plan_cheapest_first() -> None:
    result = runner.invoke(
        app,
        [
            "plans",
            "estimate",
            "--usage",
            "api_calls=20000",
            "--usage",
            "ai_tokens:gpt-4o-mini=300000",
            "--usage",
            "storage=5",
        ],
    )
    assert result.exit_code == 0, result.output
    rows = [line.split()[0] for line in result.output.splitlines()[1:]]
    assert rows == ["professional", "enterprise", "starter", "pay_per_use", "free"]
    # Starter: 2,900 + 10 packages of 1,000 calls at 8 + 200,000 tokens at 0.15 = 32,980 cents.
    assert re.search(r"starter\s+USD 329.80\s+USD 29.00\s+USD 300.80", result.output)
    assert re.search(r"professional\s+USD 79.00 .*cheapest", result.output)
    assert "storage is not available on Free" in result.output


@pytest.mark.parametrize(
    ("usage", "message"),
    [
        ("api_calls", "expected FEATURE=QUANTITY"),
        ("api_calls=-3", "expected FEATURE=QUANTITY"),
        ("api_calls=lots", "expected FEATURE=QUANTITY"),
        ("sms=3", "no feature 'sms'; the catalogue has: ai_tokens, api_calls, storage"),
    ],
)
def test_plans_estimate_refuses_bad_usage(usage: str, message: str) -> None:
    result = runner.invoke(app, ["plans", "estimate", "--usage", usage])
    assert result.exit_code == 2
    assert message in result.output


def test_the_installed_command_reads_the_environment(tmp_path: Path) -> None:
    env = {"TOLLGATE_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    created = subprocess.run(
        [sys.executable, "-m", "tollgate", "customers", "create", "cus_env", "--name", "Env"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert created.returncode == 0, created.stderr
    listed = subprocess.run(
        [sys.executable, "-m", "tollgate", "customers", "list"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "cus_env" in listed.stdout
    assert (tmp_path / "control.sqlite").exists()


def test_a_customers_own_key_is_created_for_an_existing_customer_only(tmp_path: Path) -> None:
    data = ["--data-dir", str(tmp_path)]
    unknown = runner.invoke(
        app, ["keys", "create", "--name", "portal", "--customer", "cus_x", *data]
    )
    assert unknown.exit_code != 0
    assert "no customer 'cus_x'" in unknown.output

    assert runner.invoke(app, ["customers", "create", "cus_x", "--name", "X", *data]).exit_code == 0
    created = runner.invoke(
        app, ["keys", "create", "--name", "portal", "--customer", "cus_x", *data]
    )
    assert created.exit_code == 0, created.output
    assert "acts for customer: cus_x" in created.output
    assert "scopes: read" in created.output

    admin = runner.invoke(
        app,
        ["keys", "create", "--name", "p2", "--customer", "cus_x", "--scope", "admin", *data],
    )
    assert admin.exit_code != 0
    assert "read scope only" in admin.output
    listed = runner.invoke(app, ["keys", "list", *data])
    assert "cus_x" in listed.output
