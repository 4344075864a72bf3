"""The operator's command line, as an operator runs it."""

from __future__ import annotations

import email
import email.policy
import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.support.demo_run import DemoRun
from tests.support.parquet import stored_keys
from tollgate.cli import app
from tollgate.demo import DEMO_CUSTOMER
from tollgate.warehouse.reader import PublishedMarts

runner = CliRunner()


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["serve"],
        ["keys"],
        ["keys", "create"],
        ["keys", "list"],
        ["keys", "revoke"],
        ["demo"],
        ["dashboards"],
    ],
)
def test_every_command_has_help(command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


def test_key_lifecycle(tmp_path: Path) -> None:
    data = ["--data-dir", str(tmp_path)]
    created = runner.invoke(
        app,
        ["keys", "create", "--name", "billing-svc", "--scope", "ingest", "--scope", "read", *data],
    )
    assert created.exit_code == 0, created.output
    key_id = re.search(r"key id: (\w+)", created.output)
    token = re.search(r"key:\s+(tg_\S+)", created.output)
    assert key_id
    assert token

    listed = runner.invoke(app, ["keys", "list", *data])
    assert "billing-svc" in listed.output
    assert "ingest,read" in listed.output
    assert token.group(1) not in listed.output, "keys list must never show the key"

    revoked = runner.invoke(app, ["keys", "revoke", key_id.group(1), *data])
    assert revoked.exit_code == 0
    assert "revoked" in runner.invoke(app, ["keys", "list", *data]).output

    unknown = runner.invoke(app, ["keys", "revoke", "nope", *data])
    assert unknown.exit_code == 2
    assert "No key with id 'nope'" in unknown.output


def test_create_rejects_an_unknown_scope(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["keys", "create", "--name", "x", "--scope", "root", "--data-dir", str(tmp_path)]
    )
    assert result.exit_code != 0
    assert "root" in result.output


def test_demo_posts_traffic_and_reports_it(demo_run: DemoRun) -> None:
    data_dir = demo_run.data_dir
    assert demo_run.returncode == 0, demo_run.output
    out = demo_run.output
    match = re.search(r"accepted \(durable, counted once\)\s*│?\s*([\d,]+)", out)
    assert match, out
    accepted = int(match.group(1).replace(",", ""))
    assert "duplicates" in out
    assert "rejected" in out
    # What the demo says it stored is what is in Parquet, once each.
    keys = stored_keys(data_dir / "events")
    assert len(keys) == len(set(keys)) == accepted
    assert len({customer for customer, _ in keys}) > 10
    # Stripe (the local stand-in): every customer mirrored, usage metered, a payment webhook
    # verified and recorded by the ingest API.
    assert re.search(r"customers in Stripe\s*│\s*50 of 50", out), out
    sent = re.search(r"meter events received\s*│\s*([\d,]+)", out)
    assert sent, out
    assert int(sent.group(1).replace(",", "")) > 0
    assert re.search(r"Webhook.*Stripe invoice in_\w+ of cus_\d+ paid", out.replace("\n", " ")), out
    # The dashboards answered on the address the demo printed, with keys to sign in.
    assert f"Dashboards: http://127.0.0.1:{demo_run.dashboard_port}" in out, out
    assert demo_run.key(f"as customer {DEMO_CUSTOMER}").startswith("tg_")
    assert demo_run.key("as an operator").startswith("tg_")


def test_demo_delivers_notices_and_renders_invoice_pdfs(demo_run: DemoRun) -> None:
    data_dir = demo_run.data_dir
    assert demo_run.returncode == 0, demo_run.output
    # The spend alert the demo set below the customer's spend reached its mailbox and its
    # webhook receiver, signed with the endpoint's secret, once each, with no pipeline run in
    # between (other recent notices of the customer may arrive too).
    mails = [
        email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        for path in sorted((data_dir / "demo-mail").glob("*.eml"))
    ]
    [alert_mail] = [m for m in mails if str(m["Subject"]).startswith("[Tollgate] Spend passed $")]
    assert f"billing+{DEMO_CUSTOMER}@example.com" in str(alert_mail["To"])
    hooks = [
        json.loads(line) for line in (data_dir / "demo-webhooks.jsonl").read_text().splitlines()
    ]
    assert hooks
    assert all(hook["signature_ok"] for hook in hooks)
    assert all(hook["event"]["data"]["customer_id"] == DEMO_CUSTOMER for hook in hooks)
    [alert_hook] = [h for h in hooks if h["event"]["type"] == "notification.spend_alert"]
    assert alert_hook["event"]["data"]["title"] == str(alert_mail["Subject"]).removeprefix(
        "[Tollgate] "
    )
    assert len(mails) == len(hooks), "every notice on both channels"
    # Every finalized invoice has its PDF and JSON document.
    with PublishedMarts(data_dir / "marts").connect() as marts:
        finalized = {
            row[0]
            for row in marts.execute(
                "select invoice_id from fct_invoices where status = 'finalized'"
            ).fetchall()
        }
    documents = data_dir / "invoices" / "documents"
    assert finalized
    assert {p.stem for p in documents.glob("*.pdf")} == finalized
    assert {p.stem for p in documents.glob("*.json")} == finalized
    assert "Notices delivered" in demo_run.output
