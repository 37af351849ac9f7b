"""The billing scenario's runbooks exist and name commands and metrics that really exist."""

from __future__ import annotations

import re
from pathlib import Path

from django.core.management import get_commands

RUNBOOKS = Path(__file__).resolve().parents[2] / "docs" / "runbooks"
OWN_COMMANDS = {"projections_worker", "projections_rebuild", "projections_verify", "financial_reconcile"}


def test_runbooks_reference_real_commands_and_metrics():
    texts = {
        name: (RUNBOOKS / name).read_text()
        for name in ("18_projection-backlog.md", "22_financial-dashboard-validation.md", "40_claim-chaos-drill.md")
    }
    commands = set(get_commands())
    mentioned = {c for text in texts.values() for c in re.findall(r"manage\.py (\w+)", text)}
    assert mentioned >= OWN_COMMANDS
    assert commands >= OWN_COMMANDS
    assert "claim_projection_staleness" in texts["18_projection-backlog.md"]
    assert "projection_worker_lag_seconds" in texts["18_projection-backlog.md"]
    assert "guardrail_violation" in texts["40_claim-chaos-drill.md"]


def test_the_rebuild_runbook_states_the_outbox_promise_and_the_real_options():
    from django.core.management import load_command_class

    rebuild = (RUNBOOKS / "18_projection-backlog.md").read_text()
    outbox = (RUNBOOKS / "20_event-outbox-dlq.md").read_text()
    parser = load_command_class("apps.projections", "projections_rebuild").create_parser(
        "manage.py", "projections_rebuild"
    )
    options = {option for action in parser._actions for option in action.option_strings}
    assert {"--allow-empty", "--batch-size"} <= options
    assert "--allow-empty" in rebuild and "Rebuild refused" in rebuild
    for text in (rebuild, outbox):
        assert "PIMLAB_OUTBOX_REPLAY_DAYS" in text and "outbox.E001" in text
