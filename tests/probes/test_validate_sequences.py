"""`manage.py validate_sequences` passes on the repository and names each kind of drift in a mutated catalog."""

from __future__ import annotations

import os
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from apps.probes.sequence_catalog import catalog_parse
from apps.probes.sequence_drift import exported_metric_names

CATALOG = Path(settings.BASE_DIR) / "docs" / "requirements" / "runtime-sequence-catalog.md"
# CI checks out the repository beside the shared folder holding the seed.
SEED = Path(
    os.environ.get(
        "PIMLAB_SEQUENCE_SEED", Path(settings.BASE_DIR).parent / "shared" / "seed" / "runtime-sequence-catalog.md"
    )
)


def run(*args) -> tuple[str, CommandError | None]:
    out = StringIO()
    try:
        call_command("validate_sequences", *args, stdout=out)
    except CommandError as error:
        return out.getvalue(), error
    return out.getvalue(), None


def test_the_repository_has_no_drift():
    seed = SEED if SEED.is_file() else None
    output, error = run(*(["--seed", str(seed)] if seed else []))
    assert error is None, output
    assert output.rstrip().splitlines()[-1].startswith("no drift")
    for section in ("[diagram] 5/5 ok", "[path] 21/21 ok", "[metric] 10/10 ok", "[dashboard] 4/4 ok"):
        assert section in output
    if seed:
        assert "[seed] 1/1 ok" in output


def test_the_catalog_parses_into_four_scenarios():
    catalog = catalog_parse(CATALOG.read_text())
    assert [s.name for s in catalog.scenarios] == catalog.index_names
    assert len(catalog.scenarios) == 4
    booking = catalog.scenarios[0]
    assert booking.participants[0].label == "Patient Persona" and len(booking.messages) == 13
    assert booking.metrics == ["http_server_duration_seconds", "encounter_write_latency", "eventbus_publish_latency"]


def test_a_mutated_catalog_fails_and_names_each_drift(tmp_path):
    text = CATALOG.read_text()
    mutations = [
        ("participant Validator as Command Validator", "participant Validator as Command Checker"),
        ("`docs/runbooks/30_sql-failover.md`", "`docs/runbooks/31_sql-failover-v2.md`"),
        ("`claim_submit_latency`", "`claim_submit_latency`, `claim_submit_queue_depth`"),
        ("    Outbox->>EventBus: Publish event asynchronously", "    Outbox->>Kafka: Publish event asynchronously"),
    ]
    for old, new in mutations:
        assert old in text, old
        text = text.replace(old, new, 1)
    mutated = tmp_path / "catalog.md"
    mutated.write_text(text)
    output, error = run("--catalog", str(mutated), "--seed", str(CATALOG))
    assert error is not None and "drift" in str(error)
    drift = [line for line in output.splitlines() if "DRIFT" in line]
    assert any("repository copy differs from the seed" in line for line in drift)
    assert any("Command Checker" in line for line in drift)
    assert any("docs/runbooks/31_sql-failover-v2.md" in line for line in drift)
    assert any("claim_submit_queue_depth" in line and "not exported" in line for line in drift)
    assert any("'Kafka' is not a declared participant" in line for line in drift)
    assert any("billing-submits-claim.json" in line and "claim_submit_queue_depth" in line for line in drift)


def test_a_missing_catalog_is_a_clear_error(tmp_path):
    with pytest.raises(CommandError, match="No catalog"):
        call_command("validate_sequences", "--catalog", str(tmp_path / "absent.md"), stdout=StringIO())


def test_metric_check_agrees_with_the_metrics_endpoint(client):
    """The registry the command reads is the one /metrics serves."""
    names = exported_metric_names()
    body = client.get("/metrics").content.decode()
    catalog_metrics = [m for scenario in catalog_parse(CATALOG.read_text()).scenarios for m in scenario.metrics]
    for metric in [*catalog_metrics, "synthetic_probe_success_total"]:
        assert metric in names
        assert f"# TYPE {metric}" in body or f"# TYPE {metric.removesuffix('_total')}" in body
